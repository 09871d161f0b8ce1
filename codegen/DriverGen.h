//===- DriverGen.h - the generated program of a binary ----------*- C++ -*-===//
//
// Writes the C++ source of the tables runtime/driver/ProgramABI.h
// declares: kernels, planned buffers, steps, initialisers and what the
// episode is. Compiled and linked with the kernels' objects and the
// prebuilt driver it makes a standalone binary.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_DRIVERGEN_H
#define LOPT_CODEGEN_DRIVERGEN_H

#include "codegen/MemoryPlan.h"
#include "codegen/Program.h"
#include "codegen/StreamPlan.h"

#include <map>
#include <string>
#include <vector>

namespace lopt::codegen {

/// What the binary says about itself.
struct BinaryInfo {
  std::string source, episode, target, compiled;
  std::string deviceApi; // "" (CPU), "cuda" or "opencl": see ResolvedTarget
  std::map<std::string, int64_t> ints;        // ways, shots, ... (ABI names)
  std::map<std::string, double> reals;        // lr, beta1, ...
  std::map<std::string, std::string> strings; // meta_gradient, ...
  int64_t learnerParams = 0;
  /// Indices of the programs: the meta-training step (-1: none) and the
  /// episode forward.
  int trainFunction = 0, evalFunction = 1;
  std::vector<InitEntry> inits;
};

/// The program's source text; `programs[i]` is planned by `plans[i]` and
/// `streams[i]`.
std::string generateProgramSource(const BinaryInfo &info,
                                  const KernelTable &table,
                                  const std::vector<Program> &programs,
                                  const std::vector<MemoryPlan> &plans,
                                  const std::vector<StreamPlan> &streams);

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_DRIVERGEN_H
