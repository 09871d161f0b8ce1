//===- Module.h - what the driver knows of the generated program -*- C++ -*-===//
//
// Helpers shared by the commands of a binary: its functions, the shapes of
// an episode, the initialisation of meta-parameters, binding arguments,
// messages, and the per-purpose seeds of a run.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_MODULE_H
#define LOPT_RUNTIME_DRIVER_MODULE_H

#include "runtime/EpisodeData.h"
#include "runtime/Init.h"
#include "runtime/driver/Flags.h"
#include "runtime/driver/ProgramABI.h"
#include "runtime/driver/Runner.h"

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace lopt::driver {

inline const lopt_module &M = lopt_program;

/// argv[0], for messages.
extern const char *programName;
/// Prints "<binary>: error: <msg>" and returns 1.
int fail(const std::string &msg);
/// "<binary>: <msg>" on stderr (warnings, notes).
void note(const std::string &msg);

Shape shapeOf(const int64_t *dims, int32_t rank);
Shape argShape(const lopt_function &fn, const char *name);
bool hasResult(const lopt_function &fn, const char *name);
/// Whether meta-testing normalises the query with the running statistics
/// of the support steps (the forward returns query_eval_*), rather than
/// with its own batch statistics.
bool runningStatisticsAtTest();

/// The meta-training step (meta-gradient), or null when nothing is learned.
const lopt_function *trainFunction();
/// The episode forward for meta-testing (query results with the batch-norm
/// evaluation semantics of the episode).
const lopt_function &evalFunction();
/// What `episode` and `bench` run: the training step, else the forward.
const lopt_function &episodeFunction();

/// The episode's N-way K-shot shape and the images it takes.
data::EpisodeSpec episodeSpec();
data::ImageSpec imageSpec();

std::vector<InitEntry> initEntries();
/// Meta-parameters and initial states drawn for `seed` (the same draw as
/// `loptc episode --seed` makes).
NamedTensors initialisation(uint64_t seed);
/// With `init random` the learner's initial parameters are drawn anew for
/// every episode; this redraws theta0 in `meta`.
bool theta0PerEpisode();
void redrawTheta0(NamedTensors &meta, uint64_t seed);

/// Seeds of a run, one independent stream per purpose and index.
enum class Stream : uint64_t {
  TrainEpisode = 1,
  TrainTheta0,
  ValEpisode,
  ValTheta0,
  TestEpisode,
  TestTheta0
};
uint64_t streamSeed(uint64_t seed, Stream stream, int64_t index);

bool bindEpisode(FunctionRunner &r, const EpisodeData &e, std::string &error);
/// Copies every meta argument of r's function from `meta`.
bool bindMeta(FunctionRunner &r, const NamedTensors &meta, std::string &error);

/// One arena for runners of `functions` (which never run at once), as
/// large as the largest plan, where every argument of each is bound by
/// bindEpisode and bindMeta before each of its runs; null where one is not
/// (the runners then have their own).
std::shared_ptr<Arena>
sharedArena(std::initializer_list<const lopt_function *> functions);

/// Fraction of rows whose arg-max is the label.
double accuracy(const Tensor<float> &logits, const Tensor<int32_t> &labels);
/// Sets Halide's thread count from --threads (default: $HL_NUM_THREADS,
/// else every core); returns it, or 0 with `error`.
int64_t threadsFromFlag(const Flags &f, std::string &error);
double peakRssMb();
/// "12.34 MiB".
std::string mebibytes(int64_t bytes);
/// "1h02m", "3m05s", "12s".
std::string duration(double seconds);

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_MODULE_H
