//===- MetaTest.h - accuracy of meta-parameters on held-out episodes -*- C++ -*-===//
//
// Meta-validation and meta-testing: the episode forward (T inner steps on
// the support set with the cell, then the query set at theta_T with the
// episode's batch-norm evaluation semantics) on `episodes` seeded episodes
// of one split; mean query accuracy with its 95% confidence interval
// (1.96 std / sqrt(n), std with n - 1).
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_METATEST_H
#define LOPT_RUNTIME_DRIVER_METATEST_H

#include "runtime/driver/Module.h"

#include <functional>

namespace lopt::driver {

struct MetaTestResult {
  int64_t episodes = 0;
  double accuracy = 0, ci95 = 0, loss = 0;
};

class MetaTester {
public:
  /// `arena`: one to share (sharedArena), or null for its own.
  explicit MetaTester(std::shared_ptr<Arena> arena = nullptr)
      : runner(M, evalFunction(), std::move(arena)) {}

  /// Episodes 0..episodes-1 of `dataset` for seeds streamSeed(seed,
  /// episodeStream, i); with `init random` theta0 is redrawn per episode
  /// from `theta0Stream`. `progress(done)` is called after each episode.
  bool run(const NamedTensors &meta, data::Dataset &dataset, int64_t episodes,
           uint64_t seed, Stream episodeStream, Stream theta0Stream,
           MetaTestResult &out, std::string &error,
           const std::function<void(int64_t)> &progress = {});

private:
  FunctionRunner runner;
};

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_METATEST_H
