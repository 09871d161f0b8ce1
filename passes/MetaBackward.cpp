//===- MetaBackward.cpp - meta-gradients of unrolled episodes -------------===//
#include "passes/Autodiff.h"
#include "passes/Passes.h"

#include "dialect/LoptOps.h"

#include "mlir/IR/Builders.h"

namespace lopt {
#define GEN_PASS_DEF_METABACKWARD
#include "passes/Passes.h.inc"
} // namespace lopt

using namespace mlir;
using namespace lopt;

namespace {

struct MetaBackward : lopt::impl::MetaBackwardBase<MetaBackward> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<EpisodeOp> episodes(module.getOps<EpisodeOp>());
    for (EpisodeOp ep : episodes) {
      auto unrolled = module.lookupSymbol<func::FuncOp>(
          (ep.getSymName() + ".unrolled").str());
      if (!unrolled) {
        ep.emitOpError() << "has no unrolled function: run "
                            "lopt-unroll-episodes first";
        return signalPassFailure();
      }
      if (failed(differentiate(ep, unrolled)))
        return signalPassFailure();
    }
  }

  LogicalResult differentiate(EpisodeOp ep, func::FuncOp unrolled) {
    std::string name = (ep.getSymName() + ".meta_grad").str();
    if (getOperation().lookupSymbol(name))
      return success();
    GradientSpec spec;
    spec.seeds = {0}; // the meta-loss
    for (unsigned i = 0; i < unrolled.getNumArguments(); ++i) {
      auto r = unrolled.getArgAttrOfType<StringAttr>(i, LoptDialect::kRoleAttr);
      if (r && (r.getValue() == role::kMeta || r.getValue() == role::kMetaCoord))
        spec.wrt.push_back(i);
    }
    FailureOr<func::FuncOp> grad = buildGradient(unrolled, spec, name);
    if (failed(grad))
      return failure();
    OpBuilder b(unrolled);
    for (unsigned i = 0; i < unrolled.getNumArguments(); ++i)
      grad->setArgAttrs(i, unrolled.getArgAttrDict(i));
    SmallVector<Attribute> resultAttrs;
    for (unsigned i = 0; i < unrolled.getNumResults(); ++i)
      resultAttrs.push_back(unrolled.getResultAttrDict(i));
    for (unsigned w : spec.wrt)
      resultAttrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr(LoptDialect::kRoleAttr, b.getStringAttr(role::kGrad)),
           b.getNamedAttr(LoptDialect::kNameAttr,
                          unrolled.getArgAttr(w, LoptDialect::kNameAttr))}));
    grad->setAllResultAttrs(ArrayRef<Attribute>(resultAttrs));
    (*grad)->setAttr(LoptDialect::kGradientOfAttr,
                     b.getStringAttr(unrolled.getSymName()));
    return success();
  }
};

} // namespace
