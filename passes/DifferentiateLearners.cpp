//===- DifferentiateLearners.cpp - gradients of learner losses ------------===//
#include "passes/Autodiff.h"
#include "passes/Passes.h"

#include "dialect/LoptOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"

namespace lopt {
#define GEN_PASS_DEF_DIFFERENTIATELEARNERS
#include "passes/Passes.h.inc"
} // namespace lopt

using namespace mlir;
using namespace lopt;

namespace {

struct DifferentiateLearners
    : lopt::impl::DifferentiateLearnersBase<DifferentiateLearners> {
  void runOnOperation() override {
    // Query instances of episodes need no parameter gradient: the
    // meta-gradient differentiates through them on its own.
    llvm::StringSet<> queries;
    for (auto ep : getOperation().getOps<EpisodeOp>()) {
      queries.insert(ep.getQuery());
      if (auto qe = ep.getQueryEval())
        queries.insert(*qe);
    }
    SmallVector<func::FuncOp> learners;
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (fn->hasAttr(LoptDialect::kLearnerAttr) &&
          !queries.contains(fn.getSymName()))
        learners.push_back(fn);
    for (func::FuncOp fn : learners)
      if (failed(differentiate(fn)))
        return signalPassFailure();
  }

  LogicalResult differentiate(func::FuncOp fn) {
    std::string name = (fn.getSymName() + ".grad").str();
    if (getOperation().lookupSymbol(name))
      return success(); // already there (the pass is idempotent)
    FailureOr<func::FuncOp> grad = buildLossGradient(fn, {role::kParam}, name);
    if (failed(grad))
      return failure();
    (*grad)->setAttr(LoptDialect::kBatchAttr,
                     fn->getAttr(LoptDialect::kBatchAttr));
    return success();
  }
};

} // namespace
