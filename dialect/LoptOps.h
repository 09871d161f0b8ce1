//===- LoptOps.h - lopt operations ------------------------------*- C++ -*-===//
#ifndef LOPT_DIALECT_LOPTOPS_H
#define LOPT_DIALECT_LOPTOPS_H

#include "dialect/LoptDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/LoptOps.h.inc"

namespace lopt {
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
} // namespace role

/// Checks an initialiser dictionary ({kind = "uniform", low = .., high = ..},
/// ...); returns an empty string when valid, else what is wrong.
std::string checkInitAttr(mlir::DictionaryAttr init);
} // namespace lopt

#endif // LOPT_DIALECT_LOPTOPS_H
