//===- EpisodeRunner.h - run unrolled episodes in the interpreter -*- C++ -*-=//
//
// The glue between an episode's functions (@E.unrolled, @E.meta_grad) and
// concrete inputs: episode data, meta-parameters drawn from their
// initialisers, and named results. Used by `loptc episode` and
// `loptc gradcheck`, and by the tests.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_INTERPRETER_EPISODERUNNER_H
#define LOPT_INTERPRETER_EPISODERUNNER_H

#include "interpreter/Interpreter.h"
#include "runtime/Init.h"
#include "runtime/EpisodeData.h"
#include "runtime/Tensor.h"

#include "dialect/LoptOps.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>

namespace lopt {

/// Everything else @E.unrolled takes, by argument name: "theta0",
/// "cell.<meta-parameter>", "state.<cell state>".
using NamedTensors = std::map<std::string, Tensor<float>>;

/// The functions of one episode after the pipeline ran.
struct EpisodeFunctions {
  mutable EpisodeOp episode; // op accessors are not const
  mlir::func::FuncOp support, unrolled, metaGrad; // metaGrad may be null
  /// Finds them in `module`; false with `error` if the pipeline did not run.
  bool find(mlir::ModuleOp module, EpisodeOp ep, std::string &error);
};

/// The initialisers of theta_0 (the learner's, parameter by parameter, in
/// argument order), the cell's meta-parameters and initial states, in the
/// order they are drawn.
std::vector<InitEntry> metaInitialisers(const EpisodeFunctions &fns);

/// Draws theta_0 (the learner's initialisers, parameter by parameter, in
/// argument order), the cell's meta-parameters and initial states from
/// their initialisers with one seeded generator.
NamedTensors initialMetaParameters(const EpisodeFunctions &fns, uint64_t seed);

/// Seeded random images in [0, 1) and balanced labels, class-major like the
/// episode sampler.
EpisodeData syntheticEpisode(const EpisodeFunctions &fns, uint64_t seed);

/// Arguments for `fn` (@E.unrolled or @E.meta_grad) in precision T; false
/// with `error` naming what is missing or misshapen.
template <typename T>
bool episodeArguments(mlir::func::FuncOp fn, const EpisodeData &data,
                      const NamedTensors &meta,
                      std::vector<RtValue<T>> &args, std::string &error);

/// Results of `fn` by name: "meta_loss", "query_logits", "step_losses",
/// "theta", "query_eval_loss", "query_eval_logits", and "grad/<argument>".
template <typename T>
std::map<std::string, Tensor<T>>
namedResults(mlir::func::FuncOp fn, const std::vector<RtValue<T>> &results);

} // namespace lopt

#endif // LOPT_INTERPRETER_EPISODERUNNER_H
