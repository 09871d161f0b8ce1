//===- FoldUnsliceSums.cpp - a sum of disjoint unslices is a concat ------===//
//
// A reverse sweep through slices of one flat vector (a learner's theta,
// sliced into its parameters) sums the parameters' adjoints, each
// unsliced into the vector's shape:
//
//   %a = lopt.unslice %dw {offsets = [0]}   : tensor<864> -> tensor<32901>
//   %b = lopt.unslice %db {offsets = [864]} : tensor<32>  -> tensor<32901>
//   %s = lopt.add %a, %b
//   ...
//
// A kernel each, that is 2n - 1 passes over the whole vector for n pieces
// (a Mini-ImageNet query's gradient: 18 unslices and 17 adds, 35 GPU
// launches a meta-iteration). Where the pieces are disjoint ranges of a
// vector, their sum is their concatenation with zeros between them: one
// lopt.concat, exactly (x + 0 = x).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "dialect/LoptOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <algorithm>

namespace lopt {
#define GEN_PASS_DEF_FOLDUNSLICESUMS
#include "passes/Passes.h.inc"
} // namespace lopt

using namespace mlir;
using namespace lopt;

namespace {

/// An add of two operands of its own type (no broadcast).
bool isPlainAdd(AddOp add) {
  return add.getLhs().getType() == add.getType() &&
         add.getRhs().getType() == add.getType();
}

/// An add that only one plain add of the same type reads: a node inside
/// the tree of that add.
bool isInner(AddOp add) {
  if (!add.getResult().hasOneUse())
    return false;
  auto user = dyn_cast<AddOp>(*add.getResult().getUsers().begin());
  return user && isPlainAdd(user);
}

struct FoldUnsliceSums : lopt::impl::FoldUnsliceSumsBase<FoldUnsliceSums> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      SmallVector<AddOp> roots;
      fn.walk([&](AddOp add) {
        if (isPlainAdd(add) && !isInner(add))
          roots.push_back(add);
      });
      for (AddOp root : roots)
        fold(root);
    }
  }

  /// Replaces `root` by a concat where the leaves of its tree of plain adds
  /// (through adds that only the tree reads) are unslices of disjoint
  /// ranges of a vector.
  static void fold(AddOp root) {
    auto type = cast<RankedTensorType>(root.getType());
    if (type.getRank() != 1)
      return;
    SmallVector<AddOp> nodes{root}; // parents before their operands
    SmallVector<UnsliceOp> leaves;
    for (size_t i = 0; i < nodes.size(); ++i)
      for (Value v : {nodes[i].getLhs(), nodes[i].getRhs()}) {
        auto add = v.getDefiningOp<AddOp>();
        if (add && add.getResult().hasOneUse() && isPlainAdd(add)) {
          nodes.push_back(add);
          continue;
        }
        auto piece = v.getDefiningOp<UnsliceOp>();
        if (!piece)
          return;
        leaves.push_back(piece);
      }
    auto first = [](UnsliceOp u) { return u.getOffsets()[0]; };
    auto length = [](UnsliceOp u) {
      return cast<RankedTensorType>(u.getG().getType()).getDimSize(0);
    };
    std::sort(leaves.begin(), leaves.end(),
              [&](UnsliceOp a, UnsliceOp b) { return first(a) < first(b); });
    for (size_t i = 0; i + 1 < leaves.size(); ++i)
      if (first(leaves[i]) + length(leaves[i]) > first(leaves[i + 1]))
        return; // overlapping pieces: their sum is not a concatenation
    OpBuilder b(root);
    Location loc = root.getLoc();
    SmallVector<Value> parts;
    int64_t at = 0;
    auto zeros = [&](int64_t until) {
      if (until > at) {
        auto t = RankedTensorType::get({until - at}, type.getElementType());
        parts.push_back(
            b.create<ConstantOp>(loc, t, DenseElementsAttr::get(t, 0.0f)));
      }
    };
    for (UnsliceOp u : leaves) {
      zeros(first(u));
      parts.push_back(u.getG());
      at = first(u) + length(u);
    }
    zeros(type.getDimSize(0));
    root.getResult().replaceAllUsesWith(
        b.create<ConcatOp>(loc, type, parts).getResult());
    for (AddOp add : nodes)
      add.erase();
    for (UnsliceOp u : leaves)
      if (u.getResult().use_empty())
        u.erase();
  }
};

} // namespace
