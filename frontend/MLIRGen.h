//===- MLIRGen.h - lower the .lopt AST to the lopt dialect ------*- C++ -*-===//
#ifndef LOPT_FRONTEND_MLIRGEN_H
#define LOPT_FRONTEND_MLIRGEN_H

#include "frontend/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llvm {
class SourceMgr;
}

namespace lopt {

/// Instantiates every episode of the main file (its learner at the support,
/// query and evaluation batch sizes, its cell), plus every learner and cell
/// of the main file that no episode uses (with their default parameters and
/// batch 1), as static-shaped `lopt` IR. Every semantic error is emitted as
/// an MLIR diagnostic at its source location; returns null after the first.
/// The result has been verified.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          const ModuleAST &module,
                                          const llvm::SourceMgr &sm);

} // namespace lopt

#endif // LOPT_FRONTEND_MLIRGEN_H
