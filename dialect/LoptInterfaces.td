//===- LoptInterfaces.td - lopt op interfaces ---------------*- tablegen -*-===//
#ifndef LOPT_INTERFACES_TD
#define LOPT_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Lopt_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::lopt";
  let description = [{
    An op with a reverse-mode derivative rule: given the adjoint (dL/dresult)
    of each result, it emits ops computing the adjoint of each operand, the
    vector-Jacobian product. Every rule is checked against finite differences
    (tests/unit/passes/VJPTest.cpp). Rules emit only ops that implement this
    interface themselves where a second derivative is needed (the learner
    side, for `meta_gradient full`).
  }];
  let methods = [
    InterfaceMethod<[{
        Emits the VJP at the builder's insertion point. `resultAdjoints` has
        one entry per result, null where that adjoint is zero. `needed` says
        which operand adjoints are wanted; `operandAdjoints` receives one
        entry per operand (null: zero, or not wanted). Fails with a
        diagnostic when an operand adjoint is needed but not defined (for
        example the labels of cross_entropy).
      }],
      "::mlir::LogicalResult", "buildVJP",
      (ins "::mlir::OpBuilder &":$b,
           "::llvm::ArrayRef<::mlir::Value>":$resultAdjoints,
           "::llvm::ArrayRef<bool>":$needed,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandAdjoints)>
  ];
}

#endif // LOPT_INTERFACES_TD
