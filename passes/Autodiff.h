//===- Autodiff.h - reverse-mode differentiation of lopt functions -*- C++ -*-=//
//
// The engine behind the autodiff passes: clones a function's forward
// computation and appends its reverse sweep, built op by op from each op's
// vector-Jacobian rule (DifferentiableOpInterface). `lopt.map_cell` is
// differentiated by mapping the derivative of its callee.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_PASSES_AUTODIFF_H
#define LOPT_PASSES_AUTODIFF_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"

#include <optional>
#include <string>
#include <vector>

namespace lopt {

struct GradientSpec {
  /// Arguments to differentiate with respect to, in the order their
  /// adjoints are returned.
  std::vector<unsigned> wrt;
  /// Results whose adjoints seed the reverse sweep.
  std::vector<unsigned> seeds;
  /// True: the seeds' adjoints are extra trailing arguments of the new
  /// function. False: every seed is a scalar with adjoint 1.
  bool seedsAsArguments = false;
  /// The original results the new function returns before the adjoints, by
  /// index; all of them when not set.
  std::optional<std::vector<unsigned>> kept;
};

/// Builds function `name` next to `fn` (or returns the existing one) that
/// computes `fn` and the adjoints of `spec.wrt`; what none of its results
/// needs is not computed. Emits a diagnostic and fails where an op on the
/// differentiated path has no derivative rule.
mlir::FailureOr<mlir::func::FuncOp> buildGradient(mlir::func::FuncOp fn,
                                                   const GradientSpec &spec,
                                                   llvm::StringRef name);

/// The gradient of `fn`'s first result (a scalar loss) w.r.t. every argument
/// whose lopt.role is one of `roles`, as function `name`: `fn`'s arguments
/// and results (with their attributes) but those whose role is one of
/// `droppedRoles`, then one result of role `grad` per differentiated
/// argument, named like it; tagged lopt.gradient_of.
mlir::FailureOr<mlir::func::FuncOp>
buildLossGradient(mlir::func::FuncOp fn, llvm::ArrayRef<llvm::StringRef> roles,
                  llvm::StringRef name,
                  llvm::ArrayRef<llvm::StringRef> droppedRoles = {});

/// Clones the body of `callee` at the builder's insertion point with its
/// arguments replaced by `args`; returns the values it would return.
llvm::SmallVector<mlir::Value> inlineBody(mlir::OpBuilder &b,
                                          mlir::func::FuncOp callee,
                                          mlir::ValueRange args);

} // namespace lopt

#endif // LOPT_PASSES_AUTODIFF_H
