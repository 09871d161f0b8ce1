//===- Executor.h - run lopt functions with compiled Halide kernels -*- C++ -*-=//
//
// The first code generation stage: every op of a function, and every
// lopt.map_cell as one kernel over all coordinates, is a Halide pipeline
// JIT-compiled once per (op, attributes, shapes) and run on host buffers.
// Its results must equal the reference interpreter's.
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
  /// Kernels compiled so far, and the seconds spent compiling them.
  size_t numKernels() const;
  double compileSeconds() const;

private:
  std::unique_ptr<KernelCompiler> compiler;
};

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_EXECUTOR_H
