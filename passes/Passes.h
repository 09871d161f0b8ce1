//===- Passes.h - lopt passes -----------------------------------*- C++ -*-===//
#ifndef LOPT_PASSES_PASSES_H
#define LOPT_PASSES_PASSES_H

#include "dialect/LoptDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace lopt {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Stages of `loptc -emit=`, each a prefix of the full pipeline:
///   grad:     + lopt-differentiate-learners
///   unrolled: + lopt-unroll-episodes
///   metagrad: + lopt-meta-backward
enum class Stage { Grad, Unrolled, MetaGrad };

/// What the pipeline trades for memory, by target: lopt-rematerialize's
/// recomputations, where memory is scarce (a GPU's), not on a CPU, where
/// it is plentiful and they took time (2 cores, docs/pipeline.md).
struct PipelineOptions {
  /// Every other cell step's states recomputed for the backward
  /// (min-cell-bytes), one cell call each: a tenth of an Omniglot 5w1s
  /// meta-iteration.
  bool recomputeCellSteps = true;
  /// A first layer's large convolution output recomputed for its
  /// backward (min-conv-bytes): 3.5% of a Mini-ImageNet 5w5s one.
  bool recomputeConvolutions = true;
};
void buildPipeline(mlir::OpPassManager &pm, Stage upTo,
                   const PipelineOptions &options = {});

/// Registers the passes and the named pipeline `lopt-episode-pipeline`.
void registerAll();

} // namespace lopt

#endif // LOPT_PASSES_PASSES_H
