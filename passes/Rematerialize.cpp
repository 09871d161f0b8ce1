//===- Rematerialize.cpp - recompute activations for the backward --------===//
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
// between two maxima within that rounding of each other). This pass
// recomputes y, and any chain of one-operand element-wise ops on it, for
// every use after the first when x is still used at or after them: the
// forward's value then dies at its first use, and the recomputation,
// element-wise, is fused into the kernel of the backward that reads it.
//
// x itself, a first layer's convolution of the episode's images, is cheap
// to recompute too (27 multiply-adds per element at 3 input channels) and
// is the largest activation (64.6 MiB for a Mini-ImageNet query): a
// convolution's result of at least min-conv-bytes is recomputed before its
// first later use when each element takes at most kCheapConvTerms
// multiply-adds and its operands are alive then anyway or small.
//
// The update cell's steps over the learner's coordinates (map_cell) make
// states that the cell's VJP at the next step reads in the backward: a
// meta-LSTM's h and c, 2.5 MiB each per step at Mini-ImageNet size, all
// alive at the backward's peak. A step whose states of at least
// min-cell-bytes are read again by a later map_cell is recomputed right
// before that read when what it reads is alive there anyway or small; its
// states then die at their first use, so the next step is not recomputed
// (its inputs would not be alive): every other step is.
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

/// A convolution is recomputed when each result element takes at most
/// this many multiply-adds (a first layer's 3 input channels x 3 x 3)...
constexpr int64_t kCheapConvTerms = 32;
/// ... and an operand not otherwise alive until the recomputation is at
/// most this fraction of its result.
constexpr int64_t kSmallOperand = 64;

struct Rematerialize : lopt::impl::RematerializeBase<Rematerialize> {
  using RematerializeBase::RematerializeBase;

  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (!fn.getBody().empty())
        run(fn.getBody().front());
  }

  /// The block's ops as they are now (recomputations are inserted), and
  /// each one's position.
  static void number(Block &block, SmallVector<Operation *> &ops,
                     llvm::DenseMap<Operation *, int> &position) {
    ops.clear();
    position.clear();
    for (Operation &op : block) {
      position[&op] = int(ops.size());
      ops.push_back(&op);
    }
  }

  void run(Block &block) {
    llvm::DenseMap<Operation *, int> position;
    SmallVector<Operation *> ops;
    number(block, ops, position);
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
    // Positions again: the recomputations above read convolutions' results.
    number(block, ops, position);
    for (Operation *op : ops)
      if (auto conv = dyn_cast<Conv2DOp>(op))
        recompute(conv, position);
    // The cell's steps in order, positions renewed after each copy (whether
    // the next step's inputs stay alive depends on it).
    number(block, ops, position);
    SmallVector<MapCellOp> cells;
    for (Operation *op : ops)
      if (auto cell = dyn_cast<MapCellOp>(op))
        cells.push_back(cell);
    for (MapCellOp cell : cells)
      if (recompute(cell, position))
        number(block, ops, position);
  }

  /// Whether a copy of `op` at position `at` reads only what is alive
  /// there anyway (a function argument, or a value read at or after `at`)
  /// or small (at most 1/kSmallOperand of `bytes`, what the copy saves).
  static bool readsOnlyAlive(Operation *op, int at, int64_t bytes,
                             llvm::DenseMap<Operation *, int> &position) {
    return llvm::all_of(op->getOperands(), [&](Value v) {
      return isa<BlockArgument>(v) ||
             llvm::any_of(v.getUsers(),
                          [&](Operation *u) { return position.lookup(u) >= at; }) ||
             bytesOf(v) * kSmallOperand <= bytes;
    });
  }

  /// `uses` in the order of their owners.
  static void sortByPosition(SmallVector<OpOperand *> &uses,
                             llvm::DenseMap<Operation *, int> &position) {
    llvm::sort(uses, [&](OpOperand *a, OpOperand *b) {
      return position.lookup(a->getOwner()) < position.lookup(b->getOwner());
    });
  }

  /// A copy of `op` right before `at`, marked apart from `op` for CSE
  /// (which merges equal ops).
  static Operation *copyBefore(Operation *op, Operation *at) {
    OpBuilder b(at);
    Operation *again = b.clone(*op);
    again->setAttr(LoptDialect::kRecomputedAttr, b.getUnitAttr());
    return again;
  }

  /// Points the later uses of a cell step's large results (read again by a
  /// later map_cell: the next step's VJP) at a copy of the step right
  /// before the first of them, when what the copy reads is alive there
  /// anyway or small. True when it did.
  bool recompute(MapCellOp cell, llvm::DenseMap<Operation *, int> &position) {
    SmallVector<OpOperand *> later;
    int64_t smallest = INT64_MAX;
    for (Value r : cell->getResults()) {
      if (bytesOf(r) < minCellBytes)
        continue;
      SmallVector<OpOperand *> uses = laterUses(r, position);
      later.append(uses.begin(), uses.end());
      if (!uses.empty())
        smallest = std::min(smallest, bytesOf(r));
    }
    if (later.empty() || !llvm::all_of(later, [](OpOperand *u) {
          return isa<MapCellOp>(u->getOwner());
        }))
      return false;
    sortByPosition(later, position);
    Operation *at = later.front()->getOwner();
    if (!readsOnlyAlive(cell, position.lookup(at), smallest, position))
      return false;
    Operation *again = copyBefore(cell, at);
    for (OpOperand *u : later)
      u->set(again->getResult(cast<OpResult>(u->get()).getResultNumber()));
    return true;
  }

  /// The uses of `v` after its first (by position), in order.
  static SmallVector<OpOperand *>
  laterUses(Value v, llvm::DenseMap<Operation *, int> &position) {
    SmallVector<OpOperand *> uses;
    for (OpOperand &u : v.getUses())
      uses.push_back(&u);
    sortByPosition(uses, position);
    SmallVector<OpOperand *> later;
    for (OpOperand *u : uses)
      if (position.lookup(u->getOwner()) >
          position.lookup(uses.front()->getOwner()))
        later.push_back(u);
    return later;
  }

  static int64_t bytesOf(Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    return t.getNumElements() * 4;
  }

  /// Points the uses of a cheap convolution's result after its first at a
  /// copy of the convolution, right before the first of them, when the
  /// result is at least minConvBytes and what the copy reads stays alive
  /// until then anyway (a function argument: the episode's images) or is
  /// small (the weights).
  void recompute(Conv2DOp conv, llvm::DenseMap<Operation *, int> &position) {
    auto w = cast<RankedTensorType>(conv.getWeight().getType()).getShape();
    Value y = conv.getY();
    if (w[1] * w[2] * w[3] > kCheapConvTerms || bytesOf(y) < minConvBytes)
      return;
    SmallVector<OpOperand *> later = laterUses(y, position);
    if (later.empty())
      return;
    Operation *at = later.front()->getOwner();
    if (!readsOnlyAlive(conv, position.lookup(at), bytesOf(y), position))
      return;
    // Above the broadcasts and constants right before that use (made for
    // the element-wise ops there): between them, the copy would cut a run
    // of ops that compiles into one kernel.
    while (Operation *prev = at->getPrevNode()) {
      if (!isa<BroadcastOp, ConstantOp>(prev) ||
          llvm::is_contained(conv->getOperands(), prev->getResult(0)))
        break;
      at = prev;
    }
    Operation *again = copyBefore(conv, at);
    for (OpOperand *u : later)
      u->set(again->getResult(0));
  }

  /// Points v's uses after its first at a recomputation when bn's input
  /// outlives them.
  void recompute(Value v, BatchNormOp bn, ArrayRef<Operation *> unary,
                 llvm::DenseMap<Operation *, int> &position) {
    int xLast = -1;
    for (Operation *u : bn.getX().getUsers())
      xLast = std::max(xLast, position.lookup(u));
    SmallVector<OpOperand *> later = laterUses(v, position);
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
