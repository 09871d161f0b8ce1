//===- Rematerialize.cpp - recompute normalised activations for backward --===//
//
// A reverse sweep reads forward activations long after the forward made
// them: the relu output of a conv -> batchnorm -> relu -> maxpool block is
// read by maxpool's and relu's backward, so it stays alive (and takes a
// buffer of the batch's whole activation size) from the forward to the
// backward. Batchnorm's backward keeps its input x alive over the same
// span anyway, and its result is an element-wise function of x and four
// per-channel vectors:
//
//   y = gamma * ((x - mean) * inv_std) + beta
//
// (in the order of the reference interpreter's batchnorm and of its Halide
// lowering: the interpreter recomputes the forward's value exactly; a
// compiled kernel may contract a multiply-add where the forward's did not,
// a rounding apart, which at most moves a pooling window's gradient
// between two maxima within that rounding of each other). This pass recomputes y, and any chain of one-operand element-wise ops on it,
// for every use after the first when x is still used at or after them:
// the forward's value then dies at its first use, and the recomputation,
// element-wise, is fused into the kernel of the backward that reads it.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "dialect/LoptOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"

namespace lopt {
#define GEN_PASS_DEF_REMATERIALIZE
#include "passes/Passes.h.inc"
} // namespace lopt

using namespace mlir;
using namespace lopt;

namespace {

bool isUnaryElementwise(Operation *op) {
  return op->getNumOperands() == 1 && op->getNumResults() == 1 &&
         isa<ReluOp, SigmoidOp, TanhOp, ExpOp, LogOp, AbsOp, SqrtOp, SignOp,
             SquareOp, StepOp, NegOp>(op);
}

struct Rematerialize : lopt::impl::RematerializeBase<Rematerialize> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (!fn.getBody().empty())
        run(fn.getBody().front());
  }

  void run(Block &block) {
    // The block's ops as they are now (recomputations are inserted), by
    // position.
    llvm::DenseMap<Operation *, int> position;
    SmallVector<Operation *> ops;
    for (Operation &op : block) {
      position[&op] = int(ops.size());
      ops.push_back(&op);
    }
    // The batchnorm a value is recomputable from (y, or one-operand
    // element-wise ops on it), and the ops from y to the value.
    llvm::DenseMap<Value, std::pair<BatchNormOp, SmallVector<Operation *>>>
        chain;
    for (Operation *op : ops) {
      Value v;
      if (auto bn = dyn_cast<BatchNormOp>(op)) {
        v = bn.getY();
        chain[v] = {bn, {}};
      } else if (isUnaryElementwise(op) && chain.count(op->getOperand(0))) {
        v = op->getResult(0);
        auto entry = chain.lookup(op->getOperand(0));
        entry.second.push_back(op);
        chain[v] = entry;
      } else {
        continue;
      }
      recompute(v, chain[v].first, chain[v].second, position);
    }
  }

  /// Points v's uses after its first at a recomputation when bn's input
  /// outlives them.
  void recompute(Value v, BatchNormOp bn, ArrayRef<Operation *> unary,
                 llvm::DenseMap<Operation *, int> &position) {
    SmallVector<OpOperand *> uses;
    for (OpOperand &u : v.getUses())
      uses.push_back(&u);
    if (uses.size() < 2)
      return;
    llvm::sort(uses, [&](OpOperand *a, OpOperand *b) {
      return position.lookup(a->getOwner()) < position.lookup(b->getOwner());
    });
    int firstUse = position.lookup(uses.front()->getOwner());
    int xLast = -1;
    for (Operation *u : bn.getX().getUsers())
      xLast = std::max(xLast, position.lookup(u));
    SmallVector<OpOperand *> later;
    for (OpOperand *u : uses)
      if (position.lookup(u->getOwner()) > firstUse)
        later.push_back(u);
    if (later.empty() || position.lookup(later.back()->getOwner()) > xLast)
      return;
    Operation *at = later.front()->getOwner();
    OpBuilder b(at);
    Location loc = bn.getLoc();
    Value x = bn.getX();
    Type xt = x.getType();
    auto perChannel = [&](Value c) -> Value {
      return b.create<BroadcastOp>(loc, xt, c, b.getDenseI64ArrayAttr({1}));
    };
    Value mean = perChannel(bn.getMean());
    Value centred = b.create<SubOp>(loc, xt, x, mean);
    Value inv = perChannel(bn.getInvStd());
    Value xhat = b.create<MulOp>(loc, xt, centred, inv);
    Value gamma = perChannel(bn.getGamma());
    Value scaled = b.create<MulOp>(loc, xt, gamma, xhat);
    Value beta = perChannel(bn.getBeta());
    Value y = b.create<AddOp>(loc, xt, scaled, beta);
    IRMapping map;
    map.map(bn.getY(), y);
    for (Operation *op : unary)
      b.clone(*op, map);
    Value again = map.lookup(v);
    for (OpOperand *u : later)
      u->set(again);
  }
};

} // namespace
