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
    GradientSpec spec;
    spec.seeds = {0}; // the loss
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      if (auto r = fn.getArgAttrOfType<StringAttr>(i, LoptDialect::kRoleAttr);
          r && r.getValue() == role::kParam)
        spec.wrt.push_back(i);
    FailureOr<func::FuncOp> grad = buildGradient(fn, spec, name);
    if (failed(grad))
      return failure();
    // The gradient function reads like the learner: same argument
    // attributes, the learner's results, then one `grad` per parameter.
    OpBuilder b(fn);
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      grad->setArgAttrs(i, fn.getArgAttrDict(i));
    SmallVector<Attribute> resultAttrs;
    for (unsigned i = 0; i < fn.getNumResults(); ++i) {
      DictionaryAttr d = fn.getResultAttrDict(i);
      resultAttrs.push_back(d ? d : b.getDictionaryAttr({}));
    }
    for (unsigned w : spec.wrt)
      resultAttrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr(LoptDialect::kRoleAttr, b.getStringAttr(role::kGrad)),
           b.getNamedAttr(LoptDialect::kNameAttr,
                          fn.getArgAttr(w, LoptDialect::kNameAttr))}));
    grad->setAllResultAttrs(ArrayRef<Attribute>(resultAttrs));
    (*grad)->setAttr(LoptDialect::kGradientOfAttr,
                     b.getStringAttr(fn.getSymName()));
    (*grad)->setAttr(LoptDialect::kBatchAttr,
                     fn->getAttr(LoptDialect::kBatchAttr));
    return success();
  }
};

} // namespace
