//===- FoldConstants.cpp - arithmetic on splat constants ------------------===//
//
// The reverse sweep scales a loss's gradient by 1 / N as
// `lopt.div %one, %n` of two scalar constants, and a program built from
// it computes that every step: a GPU launch of one thread, and a buffer.
// This pass replaces add, sub, mul, div and neg of splat constants (and
// broadcasts and reshapes of one) by the splat constant of their result,
// computed in float, as the reference interpreter and the kernels compute
// it: the same value to the bit.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "dialect/LoptOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace lopt {
#define GEN_PASS_DEF_FOLDCONSTANTS
#include "passes/Passes.h.inc"
} // namespace lopt

using namespace mlir;
using namespace lopt;

namespace {

/// The value of a splat f32 constant.
std::optional<float> splatValue(Value v) {
  auto c = v.getDefiningOp<ConstantOp>();
  if (!c)
    return std::nullopt;
  auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
  if (!dense || !dense.isSplat() || !dense.getElementType().isF32())
    return std::nullopt;
  return dense.getSplatValue<float>();
}

/// `op`'s value where its operands are splat constants it folds.
std::optional<float> fold(Operation *op) {
  if (isa<BroadcastOp, ReshapeOp, NegOp>(op)) {
    std::optional<float> x = splatValue(op->getOperand(0));
    if (x && isa<NegOp>(op))
      return -*x;
    return x;
  }
  if (!isa<AddOp, SubOp, MulOp, DivOp>(op))
    return std::nullopt;
  std::optional<float> a = splatValue(op->getOperand(0));
  std::optional<float> b = splatValue(op->getOperand(1));
  if (!a || !b)
    return std::nullopt;
  if (isa<AddOp>(op))
    return *a + *b;
  if (isa<SubOp>(op))
    return *a - *b;
  if (isa<MulOp>(op))
    return *a * *b;
  return *a / *b;
}

struct FoldConstants : lopt::impl::FoldConstantsBase<FoldConstants> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      SmallVector<Operation *> ops;
      fn.walk([&](Operation *op) { ops.push_back(op); });
      // In order: a folded result may be the operand of a later op.
      for (Operation *op : ops) {
        std::optional<float> v = fold(op);
        auto type = op->getNumResults() == 1
                        ? dyn_cast<RankedTensorType>(op->getResult(0).getType())
                        : nullptr;
        if (!v || !type || !type.getElementType().isF32())
          continue;
        OpBuilder b(op);
        Value c = b.create<ConstantOp>(op->getLoc(), type,
                                       DenseElementsAttr::get(type, *v));
        op->getResult(0).replaceAllUsesWith(c);
        op->erase();
      }
      // Constants that nothing reads any more.
      SmallVector<ConstantOp> dead;
      fn.walk([&](ConstantOp c) {
        if (c.getResult().use_empty())
          dead.push_back(c);
      });
      for (ConstantOp c : dead)
        c.erase();
    }
  }
};

} // namespace
