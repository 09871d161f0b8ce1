//===- LoptOps.h - lopt operations ------------------------------*- C++ -*-===//
#ifndef LOPT_DIALECT_LOPTOPS_H
#define LOPT_DIALECT_LOPTOPS_H

#include "dialect/LoptDialect.h"
#include "runtime/Tensor.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/LoptInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialect/LoptOps.h.inc"

namespace lopt {
/// The static shape of a ranked tensor type or value.
inline Shape shapeOf(mlir::Type t) {
  auto r = mlir::cast<mlir::RankedTensorType>(t);
  return Shape(r.getShape().begin(), r.getShape().end());
}
inline Shape shapeOf(mlir::Value v) { return shapeOf(v.getType()); }

/// Roles a learner or cell function argument / result can play.
namespace role {
constexpr llvm::StringLiteral kInput = "input";     // learner images; cell inputs
constexpr llvm::StringLiteral kLabels = "labels";   // learner labels
constexpr llvm::StringLiteral kParam = "param";     // learner parameter; cell's updated coordinate
constexpr llvm::StringLiteral kBnState = "bn_state"; // batch-norm running statistic
constexpr llvm::StringLiteral kState = "state";     // per-coordinate cell state
constexpr llvm::StringLiteral kMeta = "meta";       // shared meta-parameter
constexpr llvm::StringLiteral kMetaCoord = "meta_coord"; // per-coordinate meta-parameter
constexpr llvm::StringLiteral kLoss = "loss";
constexpr llvm::StringLiteral kLogits = "logits";
constexpr llvm::StringLiteral kGrad = "grad";     // a derivative w.r.t. an argument
constexpr llvm::StringLiteral kMetric = "metric"; // another named result
constexpr llvm::StringLiteral kEval = "eval"; // a meta-testing result (the
                                              // meta-gradient leaves it out)
} // namespace role

/// Checks an initialiser dictionary ({kind = "uniform", low = .., high = ..},
/// ...); returns an empty string when valid, else what is wrong.
std::string checkInitAttr(mlir::DictionaryAttr init);
} // namespace lopt

#endif // LOPT_DIALECT_LOPTOPS_H
