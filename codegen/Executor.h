//===- Executor.h - run lopt functions with compiled Halide kernels -*- C++ -*-=//
//
// Runs a function's kernel program (codegen/Program.h) with Halide's JIT:
// the same kernels, lowering and schedules as the AOT binaries, compiled
// once per key, on host buffers. `loptc episode --backend halide` and the
// kernel tests use it; its results must equal the reference interpreter's.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_EXECUTOR_H
#define LOPT_CODEGEN_EXECUTOR_H

#include "interpreter/Interpreter.h"


#include <memory>
#include <string>
#include <vector>

namespace lopt::codegen {

class KernelCompiler;

class HalideExecutor {
public:
  HalideExecutor();
  ~HalideExecutor();
  /// Like lopt::interpret<float>: runs `fn` on `args` into `results`.
  bool run(mlir::func::FuncOp fn, llvm::ArrayRef<RtValue<float>> args,
           std::vector<RtValue<float>> &results, std::string &error);
  /// Also run every op through the reference interpreter and fail at the
  /// first kernel whose results differ by more than `tolerance` (relative
  /// to the largest magnitude of the result).
  void checkAgainstInterpreter(double tolerance) { checkTolerance = tolerance; }
  /// Kernels compiled so far, and the seconds spent compiling them.
  size_t numKernels() const;
  double compileSeconds() const;

private:
  bool checkOp(mlir::Operation *op,
               const std::vector<RtValue<float>> &operands,
               const std::vector<RtValue<float>> &got, std::string &error);
  std::unique_ptr<KernelCompiler> compiler;
  double checkTolerance = -1;
};

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_EXECUTOR_H
