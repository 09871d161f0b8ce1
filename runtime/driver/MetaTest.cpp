//===- MetaTest.cpp - accuracy of meta-parameters on held-out episodes ----===//
#include "runtime/driver/MetaTest.h"

#include "runtime/driver/EpisodeStream.h"

#include <cmath>

namespace lopt::driver {

bool MetaTester::run(const NamedTensors &meta, data::Dataset &dataset,
                     int64_t episodes, uint64_t seed, Stream episodeStream,
                     Stream theta0Stream, MetaTestResult &out,
                     std::string &error,
                     const std::function<void(int64_t)> &progress) {
  // The evaluation-mode query when the episode has one (running statistics
  // of the support steps), else the query at theta_T with batch statistics.
  bool eval = runningStatisticsAtTest();
  const char *lossKey = eval ? "query_eval_loss" : "meta_loss";
  const char *logitsKey = eval ? "query_eval_logits" : "query_logits";
  NamedTensors params = meta;
  if (!theta0PerEpisode() && !bindMeta(runner, params, error))
    return false;
  EpisodeStream stream(
      dataset, episodeSpec(),
      [&](int64_t i) { return streamSeed(seed, episodeStream, i); }, 0,
      episodes);
  std::vector<double> acc;
  double loss = 0;
  for (int64_t i = 0; i < episodes; ++i) {
    EpisodeData e;
    data::Status s = data::Status::success();
    if (!stream.next(e, s)) {
      error = s.message();
      return false;
    }
    if (theta0PerEpisode()) {
      redrawTheta0(params, streamSeed(seed, theta0Stream, i));
      if (!bindMeta(runner, params, error))
        return false;
    }
    if (!bindEpisode(runner, e, error) || !runner.run(error))
      return false;
    NamedTensors r = runner.results();
    acc.push_back(accuracy(r.at(logitsKey), e.queryY));
    loss += r.at(lossKey)[0];
    if (progress)
      progress(i + 1);
  }
  double mean = 0, var = 0;
  for (double a : acc)
    mean += a / double(episodes);
  for (double a : acc)
    var += (a - mean) * (a - mean);
  var = episodes > 1 ? var / double(episodes - 1) : 0;
  out = {episodes, mean, 1.96 * std::sqrt(var / double(episodes)),
         loss / double(episodes)};
  return true;
}

} // namespace lopt::driver
