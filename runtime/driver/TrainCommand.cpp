//===- TrainCommand.cpp - NAME train: meta-training with validation -------===//
//
// One meta-update per episode (the first-order meta-gradient of the
// generated training step, Adam with global-norm clipping), episodes
// sampled ahead in a background thread, validation on a fixed set of
// validation-class episodes every --val-every episodes (the best kept as
// RUN/best.npz), a checkpoint RUN/last.npz every --save-every episodes and
// at every validation, a JSON-lines log and an SVG learning curve.
//
// Reproducible: episode i and its theta0 (with `init random`) come from
// seeds that depend only on (--seed, i), and the checkpoint holds the whole
// optimiser state, so a run resumed after `kill -9` continues exactly as
// the uninterrupted run would have (same log, same parameters).
//
//===----------------------------------------------------------------------===//
#include "runtime/driver/Checkpoint.h"
#include "runtime/driver/Commands.h"
#include "runtime/driver/EpisodeStream.h"
#include "runtime/driver/Files.h"
#include "runtime/driver/LearningCurve.h"
#include "runtime/driver/MetaTest.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <tuple>
#include <unistd.h>

namespace lopt::driver {

const std::vector<std::string> trainFlags = {
    "--data",       "--episodes",   "--out",     "--seed",
    "--val-every",  "--val-episodes", "--save-every", "--threads"};
const std::vector<std::string> trainSwitches = {"--resume"};

namespace {

volatile std::sig_atomic_t interrupted = 0;
/// The first Ctrl-C / SIGTERM asks the loop to save and stop; a second one
/// kills (the default action).
void onSignal(int sig) {
  interrupted = 1;
  std::signal(sig, SIG_DFL);
}

/// The number after `"key": ` in a log line.
bool field(const std::string &line, const char *key, double &out) {
  std::string k = std::string("\"") + key + "\": ";
  size_t at = line.find(k);
  if (at == std::string::npos)
    return false;
  char *end = nullptr;
  out = std::strtod(line.c_str() + at + k.size(), &end);
  return end != line.c_str() + at + k.size();
}

/// Keeps the log lines of episodes up to `episode` (what the checkpoint a
/// run resumes from has seen; a line cut by a kill is dropped) and
/// rebuilds the learning curve from them.
data::Status truncateLog(const std::string &path, int64_t episode,
                         LearningCurve &curve) {
  std::string text, kept;
  if (!readFile(path, text))
    return data::Status::success(); // no log yet
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      break; // cut
    std::string line = text.substr(start, end - start);
    start = end + 1;
    double e, v, ci;
    if (line.empty() || line.back() != '}' || !field(line, "episode", e) ||
        int64_t(e) > episode)
      continue;
    kept += line + "\n";
    if (field(line, "meta_loss", v))
      curve.metaLoss.push_back({int64_t(e), v});
    if (field(line, "train_accuracy", v))
      curve.trainAccuracy.push_back({int64_t(e), v});
    if (field(line, "val_accuracy", v) && field(line, "val_ci95", ci)) {
      curve.valAccuracy.push_back({int64_t(e), v});
      curve.valCi95.push_back(ci);
    }
  }
  return writeFileAtomic(path, kept);
}

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * v);
  return buf;
}

} // namespace

int trainCommand(const Flags &f) {
  const lopt_function *trainFn = trainFunction();
  if (!trainFn)
    return fail(std::string("episode '") + M.episode +
                "' has no meta-parameters: there is nothing to meta-train "
                "(`test --checkpoint init` meta-tests it)");
  std::string error, dataPath, out;
  int64_t episodes = 0, seedFlag, valEvery, valEpisodes, saveEvery;
  if (!f.required("--data", dataPath, error) ||
      !f.required("--out", out, error))
    return fail(error);
  if (!f.has("--episodes"))
    return fail("option '--episodes' is required");
  if (!f.integer("--episodes", 0, 1, episodes, error) ||
      !f.integer("--seed", 1, 0, seedFlag, error) ||
      !f.integer("--val-every", 1000, 1, valEvery, error) ||
      !f.integer("--val-episodes", 100, 1, valEpisodes, error) ||
      !f.integer("--save-every", 100, 1, saveEvery, error) ||
      !threadsFromFlag(f, error))
    return fail(error);
  bool resume = f.has("--resume");
  std::string lastPath = out + "/last.npz", bestPath = out + "/best.npz",
              logPath = out + "/log.jsonl", curvePath = out + "/curve.svg";

  TrainState st;
  data::Status s = data::Status::success();
  if (resume) {
    if (!fileExists(lastPath))
      return fail("--resume: there is no checkpoint " + lastPath +
                  " to resume from (leave out --resume to start a run)");
    if (s = loadCheckpoint(lastPath, st); !s)
      return fail(s.message());
    if (f.has("--seed") && uint64_t(seedFlag) != st.seed)
      return fail("--seed " + std::to_string(seedFlag) +
                  " differs from the seed of the run in " + out + " (" +
                  std::to_string(st.seed) + ")");
    // The validation schedule is the run's: the same episodes, compared.
    for (auto [flag, given, recorded] :
         {std::make_tuple("--val-every", &valEvery, &st.valEvery),
          std::make_tuple("--val-episodes", &valEpisodes, &st.valEpisodes)}) {
      if (*recorded > 0 && f.has(flag) && *given != *recorded)
        return fail(std::string(flag) + " " + std::to_string(*given) +
                    " differs from the run's (" + std::to_string(*recorded) +
                    ", in " + lastPath + ")");
      if (*recorded > 0)
        *given = *recorded;
    }
    if (episodes < st.episode)
      return fail("--episodes " + std::to_string(episodes) + " is less than the " +
                  std::to_string(st.episode) + " episodes the run in " + out +
                  " has done");
  } else {
    for (const std::string &p : {lastPath, bestPath, logPath})
      if (fileExists(p))
        return fail("--out " + out + " already holds a run (" + p +
                    "): pass --resume to continue it, or choose another "
                    "folder");
    st.seed = uint64_t(seedFlag);
    st.meta = initialisation(st.seed);
  }
  st.valEvery = valEvery;
  st.valEpisodes = valEpisodes;

  // Open both splits and sample the first episodes before writing
  // anything: bad data is reported without leaving a run folder behind.
  std::unique_ptr<data::Dataset> trainSet, valSet;
  s = data::openDataset(dataPath, data::Split::Train, imageSpec(), trainSet);
  if (s)
    s = data::openDataset(dataPath, data::Split::Val, imageSpec(), valSet);
  if (!s)
    return fail(s.message());
  uint64_t seed = st.seed;
  EpisodeStream stream(
      *trainSet, episodeSpec(),
      [seed](int64_t i) { return streamSeed(seed, Stream::TrainEpisode, i); },
      st.episode, episodes);
  EpisodeData e, probe;
  if (st.episode < episodes && !stream.next(e, s))
    return fail(s.message());
  if (s = sampleEpisodeData(*valSet, episodeSpec(),
                            streamSeed(seed, Stream::ValEpisode, 0), probe);
      !s)
    return fail(s.message());
  if (s = makeDirectories(out); !s)
    return fail(s.message());
  removeTemporaries(out); // of writes a kill interrupted

  LearningCurve curve;
  curve.title = xmlText(std::string(M.episode) + " (" + M.source + ")");
  if (resume)
    if (s = truncateLog(logPath, st.episode, curve); !s)
      return fail(s.message());
  FILE *log = std::fopen(logPath.c_str(), resume ? "ab" : "wb");
  if (!log)
    return fail(logPath + ": cannot write: " + std::strerror(errno));
  auto finish = [&](int rc) {
    std::fclose(log);
    if (data::Status c = writeFileAtomic(curvePath, learningCurveSvg(curve));
        !c && rc == 0)
      return fail(c.message());
    return rc;
  };

  std::printf("meta-training episode '%s' (%lld-way %lld-shot, %lld queries "
              "per class, %lld inner steps) from %s\n",
              M.episode, (long long)M.ways, (long long)M.shots,
              (long long)M.queries, (long long)M.steps, M.source);
  std::printf("train: %s\nvalidation: %lld episodes every %lld, %s\n",
              trainSet->describe().c_str(), (long long)valEpisodes,
              (long long)valEvery, valSet->describe().c_str());
  std::printf("run folder %s, seed %llu, %s at episode %lld of %lld\n",
              out.c_str(), (unsigned long long)st.seed,
              resume ? "resumed" : "starting", (long long)st.episode,
              (long long)episodes);
  std::fflush(stdout);

  Adam adam(M.lr, M.beta1, M.beta2, M.epsilon, M.clip_norm);
  adam.moments1 = st.adamM;
  adam.moments2 = st.adamV;
  adam.t = st.adamStep;
  int64_t savedEpisode = resume ? st.episode : -1; // in last.npz
  auto save = [&](const std::string &path) {
    st.adamM = adam.moments1;
    st.adamV = adam.moments2;
    st.adamStep = adam.t;
    data::Status saved = saveCheckpoint(path, st);
    if (saved && path == lastPath)
      savedEpisode = st.episode;
    return saved;
  };
  auto lastCheckpoint = [&] {
    return savedEpisode < 0 ? std::string("no checkpoint was written")
                            : "the last checkpoint, " + lastPath +
                                  ", holds episode " +
                                  std::to_string(savedEpisode) +
                                  " (continue with --resume)";
  };

  // Training and validation take turns: one arena for both (on Mini-
  // ImageNet 5w5s 129 MiB, not 129 + 110).
  std::shared_ptr<Arena> arena = sharedArena({trainFn, &evalFunction()});
  FunctionRunner runner(M, *trainFn, arena);
  MetaTester tester(arena);
  if (arena)
    std::printf("memory: one arena of %s for training and validation\n",
                mebibytes(arena->bytes()).c_str());
  else
    std::printf("memory: arenas of %s (training) and %s (validation)\n",
                mebibytes(trainFn->arena_bytes).c_str(),
                mebibytes(evalFunction().arena_bytes).c_str());
  std::fflush(stdout);
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now(), lastLine = start;
  double elapsedBefore = st.elapsedSeconds;
  int64_t firstEpisode = st.episode;
  std::deque<std::pair<double, double>> recent; // (meta-loss, accuracy)
  bool tty = isatty(fileno(stdout));
  double dataWait = 0; // seconds the loop waited for episodes
  MetaTestResult lastVal;
  bool validated = false;

  for (int64_t i = st.episode; i < episodes; ++i) {
    Clock::time_point asked = Clock::now();
    bool got = i == firstEpisode || stream.next(e, s);
    dataWait += std::chrono::duration<double>(Clock::now() - asked).count();
    if (!got) {
      // The state is whole (episode i is done): keep it.
      if (data::Status saved = save(lastPath); !saved)
        note(saved.message());
      return finish(fail("episode " + std::to_string(i + 1) + ": " +
                         s.message() + "; " + lastCheckpoint()));
    }
    if (theta0PerEpisode())
      redrawTheta0(st.meta, streamSeed(seed, Stream::TrainTheta0, i));
    if (!bindEpisode(runner, e, error) || !bindMeta(runner, st.meta, error) ||
        !runner.run(error))
      return finish(fail(error));
    NamedTensors r = runner.results();
    double loss = r.at("meta_loss")[0], norm = Adam::globalNorm(st.meta, r);
    if (!std::isfinite(loss) || !std::isfinite(norm))
      return finish(fail("episode " + std::to_string(i + 1) + ": the " +
                         (std::isfinite(loss) ? "meta-gradient" : "meta-loss") +
                         " is not finite; nothing was saved after it; " +
                         lastCheckpoint()));
    double acc = accuracy(r.at("query_logits"), e.queryY);
    adam.step(st.meta, r, norm);
    st.episode = i + 1;
    double session =
        std::chrono::duration<double>(Clock::now() - start).count();
    st.elapsedSeconds = elapsedBefore + session;
    std::fprintf(log,
                 "{\"episode\": %lld, \"meta_loss\": %.9g, \"train_accuracy\": "
                 "%.6g, \"grad_norm\": %.6g, \"elapsed_s\": %.3f}\n",
                 (long long)st.episode, loss, acc, norm, st.elapsedSeconds);
    std::fflush(log);
    curve.metaLoss.push_back({st.episode, loss});
    curve.trainAccuracy.push_back({st.episode, acc});
    recent.push_back({loss, acc});
    if (recent.size() > 100)
      recent.pop_front();

    bool validate = st.episode % valEvery == 0 || st.episode == episodes;
    if (validate) {
      if (!tester.run(st.meta, *valSet, valEpisodes, seed, Stream::ValEpisode,
                      Stream::ValTheta0, lastVal, error))
        return finish(fail("validation after episode " +
                           std::to_string(st.episode) + ": " + error + "; " +
                           lastCheckpoint()));
      validated = true;
      bool best = lastVal.accuracy > st.bestValAccuracy;
      if (best) {
        st.bestValAccuracy = lastVal.accuracy;
        st.bestEpisode = st.episode;
        if (s = save(bestPath); !s)
          return finish(fail(s.message()));
      }
      std::fprintf(log,
                   "{\"episode\": %lld, \"val_accuracy\": %.6g, \"val_ci95\": "
                   "%.6g, \"val_loss\": %.9g, \"val_episodes\": %lld, "
                   "\"best\": %s}\n",
                   (long long)st.episode, lastVal.accuracy, lastVal.ci95,
                   lastVal.loss, (long long)valEpisodes,
                   best ? "true" : "false");
      std::fflush(log);
      curve.valAccuracy.push_back({st.episode, lastVal.accuracy});
      curve.valCi95.push_back(lastVal.ci95);
      if (s = writeFileAtomic(curvePath, learningCurveSvg(curve)); !s)
        return finish(fail(s.message()));
    }
    if (validate || st.episode % saveEvery == 0 || interrupted)
      if (s = save(lastPath); !s)
        return finish(fail(s.message()));

    Clock::time_point now = Clock::now();
    bool last = st.episode == episodes || interrupted;
    if (tty || validate || last ||
        std::chrono::duration<double>(now - lastLine).count() >= 10) {
      lastLine = now;
      double meanLoss = 0, meanAcc = 0;
      for (auto &[l, a] : recent) {
        meanLoss += l / double(recent.size());
        meanAcc += a / double(recent.size());
      }
      double rate = double(st.episode - firstEpisode) / session;
      std::string line =
          "episode " + std::to_string(st.episode) + "/" +
          std::to_string(episodes);
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "  %.2f episodes/s  meta-loss %.4f  query accuracy %s "
                    "(last %zu)",
                    rate, meanLoss, percent(meanAcc).c_str(), recent.size());
      line += buf;
      if (validated)
        line += "  validation " + percent(lastVal.accuracy) + " +- " +
                percent(lastVal.ci95) + " (best " +
                percent(st.bestValAccuracy) + " at " +
                std::to_string(st.bestEpisode) + ")";
      if (!last)
        line += "  ETA " + duration(double(episodes - st.episode) / rate);
      if (tty) // one line rewritten in place, kept at validations
        std::printf("\r%s\033[K%s", line.c_str(), validate || last ? "\n" : "");
      else
        std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
    if (interrupted) {
      note("interrupted after episode " + std::to_string(st.episode) +
           "; the run is saved in " + lastPath + ", continue it with --resume");
      return finish(130);
    }
  }
  int rc = finish(0);
  if (rc)
    return rc;
  std::printf("done: %lld episodes, %s of meta-training", (long long)st.episode,
              duration(st.elapsedSeconds).c_str());
  if (st.bestEpisode >= 0)
    std::printf("; best validation accuracy %s at episode %lld (%s)",
                percent(st.bestValAccuracy).c_str(), (long long)st.bestEpisode,
                bestPath.c_str());
  double session = std::chrono::duration<double>(Clock::now() - start).count();
  if (st.episode > firstEpisode)
    std::printf("\nthis session: %lld episodes in %s (%.2f episodes/s), %.1f%% "
                "of it waiting for episode data",
                (long long)(st.episode - firstEpisode), duration(session).c_str(),
                double(st.episode - firstEpisode) / session,
                100 * dataWait / session);
  std::printf("\nlog %s, learning curve %s\n", logPath.c_str(),
              curvePath.c_str());
  return 0;
}

} // namespace lopt::driver
