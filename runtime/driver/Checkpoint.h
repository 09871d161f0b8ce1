//===- Checkpoint.h - the state of a meta-training run ----------*- C++ -*-===//
//
// A checkpoint is an .npz that NumPy reads (np.load): the meta-parameters
// and initial states under the keys `loptc episode --meta` reads
// ("meta/<name>", "state/<name>"), Adam's moments ("adam/m/<name>",
// "adam/v/<name>"), the run's counters and settings ("train/episode",
// "train/adam_step", "train/seed_hi", "train/seed_lo",
// "train/best_val_accuracy", "train/best_episode", "train/elapsed_s",
// "train/val_every", "train/val_episodes": float64 scalars) and what it
// belongs to ("program/fingerprint", "program/episode": strings as int32
// character codes). Written atomically (temp file, fsync, rename); read
// back only by a binary compiled from the same description and episode.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_CHECKPOINT_H
#define LOPT_RUNTIME_DRIVER_CHECKPOINT_H

#include "runtime/Dataset.h"
#include "runtime/Npz.h"
#include "runtime/driver/MetaOptimizer.h"
#include "runtime/driver/Runner.h"

#include <cstdint>
#include <string>

namespace lopt::driver {

struct TrainState {
  NamedTensors meta;     // every meta argument of the program, by name
  NamedTensors adamM, adamV;
  int64_t adamStep = 0;
  int64_t episode = 0;   // meta-training episodes done
  uint64_t seed = 1;
  double bestValAccuracy = -1;
  int64_t bestEpisode = -1;
  double elapsedSeconds = 0; // meta-training wall time over all sessions
  int64_t valEvery = 0, valEpisodes = 0; // 0: not recorded
};

/// The meta arguments of the binary's functions in `meta`, under their
/// .npz keys (the format of checkpoints and `episode --dump`).
void addMetaArrays(data::NpzWriter &npz, const NamedTensors &meta);
/// Reads every meta argument from `arrays` (read from `file`) with the
/// shape the binary expects; the error names the file and the array.
data::Status readMetaArrays(const std::vector<data::NpzArray> &arrays,
                            const std::string &file, NamedTensors &meta);

data::Status saveCheckpoint(const std::string &path, const TrainState &state);

/// Reads a checkpoint written by this binary's description; the error names
/// the file and says what does not match.
data::Status loadCheckpoint(const std::string &path, TrainState &state);

/// What `--checkpoint PATH` names: an .npz, PATH + ".npz" ("run/best"), or
/// a run folder (its best.npz).
std::string checkpointFile(const std::string &path);

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_CHECKPOINT_H
