//===- Interpreter.h - reference interpreter over lopt IR -------*- C++ -*-===//
//
// Executes a learner or cell function op by op with the plain loops of
// RefOps.h, in float or double. It is the oracle for every later stage, so
// it favours obviousness over speed and checks its inputs.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_INTERPRETER_INTERPRETER_H
#define LOPT_INTERPRETER_INTERPRETER_H

#include "runtime/Init.h"
#include "runtime/Tensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"

#include <string>
#include <vector>

namespace lopt {

/// A value flowing through the interpreter: a floating tensor, or integer
/// labels (the learner's `labels` argument).
template <typename T> struct RtValue {
  Tensor<T> f;
  Tensor<int32_t> i;
  bool isInt = false;

  RtValue() = default;
  RtValue(Tensor<T> t) : f(std::move(t)) {}
  RtValue(Tensor<int32_t> t) : i(std::move(t)), isInt(true) {}
  const Shape &shape() const { return isInt ? i.shape : f.shape; }

  /// The same value with its floats in precision U (labels unchanged).
  template <typename U> RtValue<U> cast() const {
    return isInt ? RtValue<U>(i) : RtValue<U>(f.template cast<U>());
  }
};

/// What `lopt.stop_gradient` returns. Normally its operand. To check a
/// truncated meta-gradient by finite differences, a base run records the
/// value of every stop_gradient and perturbed runs of the same function
/// replay those values: what the truncation treats as constant then is.
template <typename T> struct StopGradientTape {
  enum class Mode { Record, Replay } mode = Mode::Record;
  llvm::DenseMap<mlir::Operation *, Tensor<T>> values;
};

/// Runs `fn` on `args` (one per function argument, shapes as declared).
/// On success fills `results`; otherwise returns false with `error` saying
/// what was wrong (argument shapes, label range, an unsupported op).
template <typename T>
bool interpret(mlir::func::FuncOp fn, llvm::ArrayRef<RtValue<T>> args,
               std::vector<RtValue<T>> &results, std::string &error,
               StopGradientTape<T> *tape = nullptr);

extern template bool interpret<float>(mlir::func::FuncOp,
                                      llvm::ArrayRef<RtValue<float>>,
                                      std::vector<RtValue<float>> &,
                                      std::string &,
                                      StopGradientTape<float> *);
extern template bool interpret<double>(mlir::func::FuncOp,
                                       llvm::ArrayRef<RtValue<double>>,
                                       std::vector<RtValue<double>> &,
                                       std::string &,
                                       StopGradientTape<double> *);

/// What one argument or result of a learner/cell function is, read from its
/// lopt.role / lopt.name / lopt.init attributes.
struct OperandInfo {
  std::string role;
  std::string name;
  Shape shape;
  InitSpec init; // zeros when the IR names none
};
std::vector<OperandInfo> describeArguments(mlir::func::FuncOp fn);
std::vector<OperandInfo> describeResults(mlir::func::FuncOp fn);

} // namespace lopt

#endif // LOPT_INTERPRETER_INTERPRETER_H
