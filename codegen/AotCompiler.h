//===- AotCompiler.h - kernels as object files ------------------*- C++ -*-===//
//
// Ahead-of-time compilation of a KernelTable: kernel i becomes the C
// function KernelTable::symbol(i) (and its `_argv` form, which takes an
// array of halide_buffer_t pointers) in an object file, without Halide's
// runtime; the runtime is compiled once into an object of its own. With a
// cache folder, objects are kept by symbol and target and reused by later
// builds. Linked
// with the generated driver these make a binary that needs neither Halide
// nor LLVM at run time.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_AOTCOMPILER_H
#define LOPT_CODEGEN_AOTCOMPILER_H

#include "codegen/Program.h"

#include <functional>
#include <string>
#include <vector>

namespace lopt::codegen {

struct AotOptions {
  std::string target = "host"; // a Halide target string
  int jobs = 1;                // kernels compiled in this many processes
  std::string cacheDir;        // "" = no cache
  /// Called once with (kernels to compile, kernels in all), then after
  /// each kernel compiled in this process with (done, to compile).
  std::function<void(size_t, size_t)> plan, progress;
};

/// Writes an object for every kernel and `dir`/halide_runtime.o;
/// `objects` gets their paths (in the cache when it holds them). False with
/// `error` on failure.
bool compileKernels(const KernelTable &table, const std::string &dir,
                    const AotOptions &opts, std::vector<std::string> &objects,
                    std::string &error);

/// Halide's lowered statement of kernel `index` (what -emit=halide shows).
bool kernelStatement(const KernelTable &table, size_t index,
                     const std::string &target, std::string &text,
                     std::string &error);

/// Per kernel of `table`, the bytes of the stages it stores on the device
/// besides its outputs when scheduled for the GPU of `target` (each
/// aligned as the driver places them): what its steps need of the arena's
/// free range (0 for a CPU target). Lowers and schedules without
/// compiling, in a child process: Halide makes each Func name unique in
/// the process that makes it, so kernels lowered here would otherwise be
/// named differently in -emit=halide and in the objects.
bool kernelStageBytes(const KernelTable &table, const std::string &target,
                      std::vector<int64_t> &bytes, std::string &error);

/// A target as compiled: the full Halide target string (host-cuda gets
/// cuda_capability_80, OpenCL cl_doubles) and its device API.
struct ResolvedTarget {
  std::string full;
  std::string deviceApi; // "" (CPU), "cuda" or "opencl"
};

/// Whether `target` is a Halide target string this build can compile for.
bool resolveTarget(const std::string &target, ResolvedTarget &out,
                   std::string &error);

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_AOTCOMPILER_H
