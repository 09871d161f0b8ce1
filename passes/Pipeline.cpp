//===- Pipeline.cpp - the named lopt pass pipeline ------------------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <limits>

using namespace mlir;

void lopt::buildPipeline(OpPassManager &pm, Stage upTo,
                         const PipelineOptions &options) {
  // Learner gradients first: the unrolled episode inlines them.
  pm.addPass(createDifferentiateLearners());
  if (upTo != Stage::Grad) {
    pm.addPass(createUnrollEpisodes());
    // The meta-gradient differentiates the unrolled graph, stop_gradient
    // markers included, so it needs no knowledge of the policy.
    if (upTo == Stage::MetaGrad)
      pm.addPass(createMetaBackward());
  }
  // Backward sweeps recompute normalised activations rather than keep
  // them from the forward.
  RematerializeOptions remat;
  if (!options.recomputeCellSteps)
    remat.minCellBytes = std::numeric_limits<int64_t>::max();
  if (!options.recomputeConvolutions)
    remat.minConvBytes = std::numeric_limits<int64_t>::max();
  pm.addPass(createRematerialize(remat));
  // A reverse sweep's 1 / N is a constant, and its sum of a flat vector's
  // unsliced pieces their concatenation.
  pm.addPass(createFoldConstants());
  pm.addPass(createFoldUnsliceSums());
  // Reverse sweeps recompute shared subexpressions (batch statistics,
  // constants); CSE merges them.
  pm.addPass(createCSEPass());
}

void lopt::registerAll() {
  registerLoptPasses();
  PassPipelineRegistration<>(
      "lopt-episode-pipeline",
      "learner gradients, unrolled episodes and their meta-gradients",
      [](OpPassManager &pm) { buildPipeline(pm, Stage::MetaGrad); });
}
