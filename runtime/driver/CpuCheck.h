//===- CpuCheck.h - whether this CPU runs the binary's kernels --*- C++ -*-===//
//
// A binary's kernels are compiled for the CPU features of its target
// (loptc's default, `host`, is the building machine's: AVX-512 on one
// that has it). Run on a CPU without them, the first kernel stopped on
// SIGILL; the binary now says which features are missing and what to do.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_CPUCHECK_H
#define LOPT_RUNTIME_DRIVER_CPUCHECK_H

#include <functional>
#include <string>
#include <vector>

namespace lopt::driver {

/// The x86 features of `target` (a Halide target string) that need CPU
/// flags `has` (a flag as GCC's __builtin_cpu_supports names it) says are
/// missing, each as "feature (flag, ...)" naming the missing flags. None
/// for a target of another architecture.
std::vector<std::string>
missingCpuFeatures(const std::string &target,
                   const std::function<bool(const std::string &)> &has);

/// "" where this CPU has every feature the kernels of `target` need, else
/// a message for people saying which it lacks and what to do.
std::string checkCpu(const std::string &target);

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_CPUCHECK_H
