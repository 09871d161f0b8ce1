//===- LoptDialect.td - the lopt dialect -------------------*- tablegen -*-===//
//
// Learner-network ops, coordinate-wise update-cell ops and the episode op.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_DIALECT_TD
#define LOPT_DIALECT_TD

include "mlir/IR/OpBase.td"

def Lopt_Dialect : Dialect {
  let name = "lopt";
  let cppNamespace = "::lopt";
  let summary = "Learned optimizers: learner networks, update cells, episodes";
  let description = [{
    The `lopt` dialect describes a meta-learning system as static-shaped
    tensor programs. A learner is a `func.func` tagged `lopt.learner` that
    computes a loss from an input batch and its parameters; a cell is a
    `func.func` tagged `lopt.cell` that updates ONE learner parameter
    coordinate (it is later mapped over all of them with shared weights); an
    `lopt.episode` ties a learner instance, a cell and the few-shot task shape
    together. Argument and result attributes (`lopt.role`, `lopt.name`,
    `lopt.init`) say what each function operand is; the dialect verifies them.
  }];
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    // Discardable attribute names used on functions and their arguments.
    static constexpr llvm::StringLiteral kLearnerAttr = "lopt.learner";
    static constexpr llvm::StringLiteral kCellAttr = "lopt.cell";
    static constexpr llvm::StringLiteral kBatchAttr = "lopt.batch";
    // On a derived function: the symbol it is the gradient of.
    static constexpr llvm::StringLiteral kGradientOfAttr = "lopt.gradient_of";
    static constexpr llvm::StringLiteral kRoleAttr = "lopt.role";
    static constexpr llvm::StringLiteral kNameAttr = "lopt.name";
    static constexpr llvm::StringLiteral kInitAttr = "lopt.init";
    // On an op: a copy that recomputes a value (lopt-rematerialize), kept
    // apart from the op it copies.
    static constexpr llvm::StringLiteral kRecomputedAttr = "lopt.recomputed";
  }];
}

class Lopt_Op<string mnemonic, list<Trait> traits = []>
    : Op<Lopt_Dialect, mnemonic, traits>;

#endif // LOPT_DIALECT_TD
