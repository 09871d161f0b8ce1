//===- MetaBackward.cpp - meta-gradients of unrolled episodes -------------===//
#include "passes/Autodiff.h"
#include "passes/Passes.h"

#include "dialect/LoptOps.h"


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
    // Meta-training needs neither the evaluation-mode query (it is the
    // forward's, for meta-testing) nor what only it reads.
    return buildLossGradient(unrolled, {role::kMeta, role::kMetaCoord}, name,
                             {role::kEval});
  }
};

} // namespace
