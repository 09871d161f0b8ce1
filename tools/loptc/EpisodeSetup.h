//===- EpisodeSetup.h - inputs of loptc episode / gradcheck -----*- C++ -*-===//
#ifndef LOPT_TOOLS_LOPTC_EPISODESETUP_H
#define LOPT_TOOLS_LOPTC_EPISODESETUP_H

#include "tools/loptc/Driver.h"

#include "interpreter/EpisodeRunner.h"

namespace lopt {

/// A description compiled to its meta-gradient, with an episode's data and
/// meta-parameters ready to run.
struct PreparedEpisode {
  EpisodeFunctions fns;
  EpisodeData data;
  NamedTensors meta;
  std::string dataSource;        // what the data is, for the report
  std::vector<std::string> classNames;
};

/// Loads `opts.file`, applies the --steps/--truncation overrides, runs the
/// pipeline and fills `out` from --data (dataset folder or .npz; default as
/// documented, or seeded random images when `syntheticDefault`) and --meta
/// (an .npz, or the initialisers). Prints an error and returns false on
/// failure.
bool prepareEpisode(Description &d, const EpisodeOptions &opts,
                    const char *command, bool syntheticDefault,
                    PreparedEpisode &out);

/// Applies `--truncation first_order|full|horizon=K` and `--steps N` (0:
/// keep) to the episode; prints an error and returns false when invalid.
bool applyOverrides(EpisodeOp ep, const std::string &truncation,
                    int64_t steps, const char *command);

/// The .npz key of an @E.unrolled argument holding a meta-parameter
/// ("meta/<name>") or an initial cell state ("state/<name>").
std::string npzKey(const OperandInfo &arg);

} // namespace lopt

#endif // LOPT_TOOLS_LOPTC_EPISODESETUP_H
