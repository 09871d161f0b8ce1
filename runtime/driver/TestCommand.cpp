//===- TestCommand.cpp - NAME test: meta-testing with a 95% CI ------------===//
#include "runtime/driver/Checkpoint.h"
#include "runtime/driver/Commands.h"
#include "runtime/driver/Files.h"
#include "runtime/driver/MetaTest.h"

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace lopt::driver {

const std::vector<std::string> testFlags = {
    "--data", "--checkpoint", "--episodes", "--split",
    "--seed", "--json",       "--threads"};

int testCommand(const Flags &f) {
  std::string error, dataPath, checkpoint, splitName = f.str("--split", "test");
  int64_t episodes, seed;
  if (!f.required("--data", dataPath, error) ||
      !f.required("--checkpoint", checkpoint, error) ||
      !f.integer("--episodes", 600, 1, episodes, error) ||
      !f.integer("--seed", 1, 0, seed, error) || !threadsFromFlag(f, error))
    return fail(error);
  data::Split split;
  if (data::Status s = data::parseSplit(splitName, split);
      !s || split == data::Split::Train)
    return fail("--split must be test or val, got '" + splitName + "'");

  // Meta-parameters: a checkpoint of `train`, or the initialisation (the
  // untrained cell; the only choice for an episode without meta-parameters).
  NamedTensors meta;
  std::string from;
  if (checkpoint == "init") {
    meta = initialisation(uint64_t(seed));
    from = "the initialisation for seed " + std::to_string(seed) +
           " (not meta-trained)";
  } else {
    TrainState st;
    std::string file = checkpointFile(checkpoint);
    if (data::Status s = loadCheckpoint(file, st); !s)
      return fail("--checkpoint: " + s.message());
    meta = std::move(st.meta);
    char buf[128];
    std::snprintf(buf, sizeof buf,
                  "; the run's best validation accuracy %.2f%% at episode %lld",
                  100 * st.bestValAccuracy, (long long)st.bestEpisode);
    from = file + " (after " + std::to_string(st.episode) +
           " meta-training episodes" +
           (st.bestEpisode >= 0 ? buf : "; not validated yet") + ")";
  }
  std::unique_ptr<data::Dataset> dataset;
  if (data::Status s =
          data::openDataset(dataPath, split, imageSpec(), dataset);
      !s)
    return fail(s.message());
  bool val = split == data::Split::Val;
  std::printf("meta-testing episode '%s' (%lld-way %lld-shot, %lld queries "
              "per class, %lld inner steps, batch norm at test: %s)\n"
              "meta-parameters: %s\n%lld episodes of %s, seed %lld\n",
              M.episode, (long long)M.ways, (long long)M.shots,
              (long long)M.queries, (long long)M.steps,
              runningStatisticsAtTest() ? "running statistics of the support steps"
                  : "batch statistics",
              from.c_str(), (long long)episodes, dataset->describe().c_str(),
              (long long)seed);
  std::fflush(stdout);
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now(), lastLine = start;
  bool tty = isatty(fileno(stdout));
  auto progress = [&](int64_t done) {
    Clock::time_point now = Clock::now();
    if (done == episodes ||
        std::chrono::duration<double>(now - lastLine).count() < (tty ? 0.5 : 10))
      return;
    lastLine = now;
    double rate = double(done) / std::chrono::duration<double>(now - start).count();
    std::printf(tty ? "\r%lld/%lld episodes, %.1f/s\033[K" : "%lld/%lld episodes, %.1f/s\n",
                (long long)done, (long long)episodes, rate);
    std::fflush(stdout);
  };
  MetaTester tester;
  MetaTestResult r;
  if (!tester.run(meta, *dataset, episodes, uint64_t(seed),
                  val ? Stream::ValEpisode : Stream::TestEpisode,
                  val ? Stream::ValTheta0 : Stream::TestTheta0, r, error,
                  progress))
    return fail(error);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%saccuracy %.2f%% +- %.2f%% (95%% CI over %lld episodes), "
              "query loss %.4f, %.1f s\n",
              tty ? "\r\033[K" : "", 100 * r.accuracy, 100 * r.ci95,
              (long long)r.episodes, r.loss, seconds);
  std::string json = f.str("--json");
  if (json.empty())
    return 0;
  char numbers[256];
  std::snprintf(numbers, sizeof numbers,
                "\"episodes\": %lld, \"seed\": %lld, \"accuracy\": %.6f, "
                "\"ci95\": %.6f, \"loss\": %.6f, \"seconds\": %.1f",
                (long long)r.episodes, (long long)seed, r.accuracy, r.ci95,
                r.loss, seconds);
  std::string text =
      "{\"episode\": " + jsonString(M.episode) + ", \"split\": " +
      jsonString(splitName) + ", " + numbers + ", \"checkpoint\": " +
      jsonString(checkpoint == "init" ? checkpoint : checkpointFile(checkpoint)) +
      "}\n";
  if (data::Status s = writeFileAtomic(json, text); !s)
    return fail("--json: " + s.message());
  return 0;
}

} // namespace lopt::driver
