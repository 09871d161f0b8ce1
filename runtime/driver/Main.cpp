//===- Main.cpp - the main() of every binary loptc builds -----------------===//
//
//   NAME info
//   NAME train --data DIR --episodes N --out RUN [--resume] [--seed S] ...
//   NAME test --data DIR --checkpoint PATH|init [--episodes 600] ...
//   NAME bench [--iters N] [--warmup N] [--threads N] [--seed N]
//              [--profile TOP]
//   NAME episode [--data DIR|EPISODE.npz] [--meta PARAMS.npz]
//                [--dump OUT.npz] [--seed N] [--threads N] [--repeat N]
//
// Everything episode-specific comes from the generated program
// (lopt_program); this file is compiled once, with the runtime.
//
//===----------------------------------------------------------------------===//
#include "runtime/Npz.h"
#include "runtime/driver/Checkpoint.h"
#include "runtime/driver/Commands.h"
#include "runtime/driver/CpuCheck.h"
#include "runtime/driver/Device.h"
#include "runtime/driver/MetaOptimizer.h"
#include "runtime/driver/Module.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>

using namespace lopt;
using namespace lopt::driver;

namespace {

/// Meta-parameters and initial states: drawn like `loptc episode` draws
/// them for the same seed, or read from an .npz (loptc's dump format).
bool metaParameters(const Flags &f, uint64_t seed, NamedTensors &meta,
                    std::string &error) {
  std::string path = f.str("--meta");
  if (path.empty()) {
    meta = initialisation(seed);
    return true;
  }
  std::vector<data::NpzArray> arrays;
  data::Status s = data::readNpz(path, arrays);
  if (s)
    s = readMetaArrays(arrays, path, meta);
  if (!s)
    error = s.message();
  return bool(s);
}

/// The episode: from an .npz (loptc's dump format), a dataset folder, or
/// seeded random images of the right shapes.
bool episodeData(const Flags &f, uint64_t seed, EpisodeData &e,
                 std::string &source, std::string &error) {
  const lopt_function &fn = episodeFunction();
  Shape sx = argShape(fn, "support_x"), qx = argShape(fn, "query_x");
  std::string path = f.str("--data");
  if (path.empty()) {
    e = syntheticEpisode(sx, qx, M.ways, seed);
    source = "random images (seed " + std::to_string(seed) + ")";
    return true;
  }
  bool npz = path.size() > 4 && path.compare(path.size() - 4, 4, ".npz") == 0;
  data::Status s =
      npz ? readEpisodeNpz(path, sx, qx, e)
          : sampleDatasetEpisode(path, sx, episodeSpec(), seed, e, source,
                                 nullptr);
  if (npz)
    source = "episode arrays from " + path;
  if (!s)
    error = s.message();
  return bool(s);
}

int info() {
  std::printf("compiled from: %s, episode '%s'\n", M.source, M.episode);
  std::printf("target: %s, compiled %s\n", M.target, M.compiled);
  std::printf("kernels run on %s%s\n", deviceDescription().c_str(),
              usesDevice() ? "; buffers stay in device memory (arguments "
                             "are uploaded, results downloaded, per run)"
                           : "");
  std::printf("episode: %lld-way %lld-shot, %lld queries per class, %lld "
              "inner steps on batches of %lld, meta_gradient %s",
              (long long)M.ways, (long long)M.shots, (long long)M.queries,
              (long long)M.steps, (long long)M.inner_batch, M.meta_gradient);
  if (std::strcmp(M.meta_gradient, "horizon") == 0)
    std::printf("(%lld)", (long long)M.horizon);
  std::printf("\nmeta-optimizer: %s(lr %g, betas (%g, %g), eps %g, clip_norm "
              "%g); batch-norm at meta-test: %s\n",
              M.meta_optimizer, M.lr, M.beta1, M.beta2, M.epsilon, M.clip_norm,
              M.bn_eval);
  std::printf("learner: %lld parameters\n", (long long)M.learner_params);
  int64_t meta = 0, state = 0;
  for (int i = 0; i < M.num_inits; ++i) {
    const lopt_init &e = M.inits[i];
    Shape s = shapeOf(e.shape, e.rank);
    bool piece = e.piece[0] != 0;
    bool isState = std::strncmp(e.name, "state.", 6) == 0;
    (isState ? state : meta) += piece ? 0 : numElements(s);
    std::printf("  %-8s %-28s %-16s %s\n",
                piece ? "theta0" : isState ? "state" : "meta",
                piece ? e.piece : e.name, shapeToString(s).c_str(), e.kind);
  }
  bool learned = std::strcmp(M.init, "learned") == 0;
  std::printf("meta-parameters: %lld of the cell", (long long)meta);
  if (learned)
    std::printf(", %lld with theta0", (long long)(meta + M.learner_params));
  else
    std::printf("; theta0 is not learned (init %s: %s)", M.init,
                theta0PerEpisode() ? "drawn for every episode"
                                   : "drawn once from the seed");
  std::printf("; initial cell state: %lld values\n", (long long)state);
  if (!trainFunction())
    std::printf("nothing to meta-train: this binary meta-tests (test "
                "--checkpoint init)\n");
  std::printf("kernels: %d\n", M.num_kernels);
  for (int f = 0; f < M.num_functions; ++f) {
    const lopt_function &fn = M.functions[f];
    std::printf("function %s: %d steps, %.3f GFLOP per run, planned memory "
                "%s (%s without reuse)",
                fn.name, fn.num_steps, fn.flops / 1e9,
                mebibytes(fn.arena_bytes).c_str(),
                mebibytes(fn.unplanned_bytes).c_str());
    // A CUDA binary's steps may run on several streams (StepStreams).
    if (fn.num_streams > 1)
      std::printf("; its steps planned on %d streams (LOPT_CUDA_STREAMS=1 "
                  "uses them)",
                  fn.num_streams);
    std::printf("\n");
  }
  return 0;
}

/// The `top` kernels by time, per meta-iteration, on stderr.
void printProfile(const FunctionRunner &r, int64_t iters, size_t top) {
  std::vector<int> order(size_t(M.num_kernels));
  for (int k = 0; k < M.num_kernels; ++k)
    order[k] = k;
  const std::vector<double> &s = r.kernelSeconds();
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return s[a] > s[b]; });
  double total = 0;
  for (double v : s)
    total += v;
  std::fprintf(stderr, "%8s %6s %6s %8s  %s\n", "ms/iter", "%", "calls",
               "GFLOP/s", "kernel");
  for (size_t i = 0; i < std::min(top, order.size()); ++i) {
    int k = order[i];
    if (!r.kernelCalls()[k])
      break;
    std::fprintf(stderr, "%8.2f %6.1f %6lld %8.2f  @k%d %s\n",
                 1e3 * s[k] / double(iters), 100 * s[k] / total,
                 (long long)(r.kernelCalls()[k] / iters),
                 M.kernel_flops[k] * double(r.kernelCalls()[k]) / s[k] / 1e9,
                 k, M.kernel_ops[k]);
  }
  std::fprintf(stderr, "%8.2f ms per iteration in kernels\n",
               1e3 * total / double(iters));
}

int bench(const Flags &f) {
  std::string error;
  int64_t iters, warmup, seed, profile;
  if (!f.integer("--iters", 10, 1, iters, error) ||
      !f.integer("--warmup", 2, 0, warmup, error) ||
      !f.integer("--seed", 1, 0, seed, error) ||
      !f.integer("--profile", 0, 0, profile, error))
    return fail(error);
  int64_t threads = threadsFromFlag(f, error);
  if (!threads)
    return fail(error);
  FunctionRunner runner(M, episodeFunction());
  EpisodeData e;
  NamedTensors meta;
  std::string source;
  if (!episodeData(Flags(), uint64_t(seed), e, source, error) ||
      !metaParameters(Flags(), uint64_t(seed), meta, error) ||
      !bindEpisode(runner, e, error))
    return fail(error);
  Adam adam(M.lr, M.beta1, M.beta2, M.epsilon, M.clip_norm);
  std::vector<double> ms;
  double metaLoss = 0;
  for (int64_t i = 0; i < warmup + iters; ++i) {
    if (profile && i == warmup)
      runner.enableProfile();
    auto start = std::chrono::steady_clock::now();
    if (!bindMeta(runner, meta, error) || !runner.run(error))
      return fail(error);
    NamedTensors r = runner.results();
    adam.step(meta, r);
    double t = std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - start)
                   .count();
    if (i >= warmup)
      ms.push_back(t);
    metaLoss = r.at("meta_loss")[0];
  }
  std::sort(ms.begin(), ms.end());
  double median = ms.size() % 2 ? ms[ms.size() / 2]
                                : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
  const lopt_function &fn = episodeFunction();
  // The most bytes of stages one kernel call placed in the arena's free
  // range (StageScratch); a CUDA binary's own device allocations at most
  // (the arena, and the stages that did not fit, kept for reuse): what of
  // the process's device memory is not the CUDA context's.
  double held = deviceAllocationPeakMb();
  char heldMb[32] = "null";
  if (held >= 0)
    std::snprintf(heldMb, sizeof heldMb, "%.1f", held);
  int64_t beside = stagesBesideArena();
  std::string besideJson = beside < 0 ? "null" : std::to_string(beside);
  // Whether the timed runs replayed a CUDA graph of the kernel launches.
  std::string graph = runner.graphStatus();
  graph = graph.empty() ? "null" : "\"" + graph + "\"";
  // And whether they ran on several streams (StepStreams).
  std::string streams = runner.streamsStatus();
  streams = streams.empty() ? "null" : "\"" + streams + "\"";
  std::printf("{\"binary\": \"%s\", \"episode\": \"%s\", \"threads\": %lld, "
              "\"iters\": %lld, \"ms_per_iter\": %.3f, \"ms_per_iter_min\": "
              "%.3f, \"gflop_per_iter\": %.4f, \"gflops\": %.2f, "
              "\"peak_rss_mb\": %.1f, \"arena_mb\": %.1f, "
              "\"stage_scratch_mb\": %.1f, \"stages_beside_arena\": %s, "
              "\"device_alloc_mb\": %s, \"cuda_graph\": %s, "
              "\"cuda_streams\": %s, \"meta_loss\": %.6f}\n",
              programName, M.episode, (long long)threads, (long long)iters, median,
              ms.front(), fn.flops / 1e9, fn.flops / 1e6 / median,
              peakRssMb(), double(fn.arena_bytes) / (1 << 20),
              stageScratchPeakMb(), besideJson.c_str(), heldMb, graph.c_str(),
              streams.c_str(), metaLoss);
  if (profile)
    printProfile(runner, iters, size_t(profile));
  return std::isfinite(metaLoss) ? 0 : fail("the meta-loss is not finite");
}

/// The first array of `again` whose bits differ from `first`'s, with the
/// largest difference; "" when every array is identical.
std::string firstDifference(const NamedTensors &first, const NamedTensors &again) {
  for (auto &[name, t] : first) {
    const Tensor<float> &u = again.at(name);
    if (std::memcmp(t.data.data(), u.data.data(), t.data.size() * sizeof(float)) == 0)
      continue;
    double most = 0;
    for (size_t i = 0; i < t.data.size(); ++i)
      most = std::max(most, std::fabs(double(t.data[i]) - double(u.data[i])));
    return name + " (by up to " + std::to_string(most) + ")";
  }
  return "";
}

/// "; CUDA graph: STATUS" for a CUDA binary's runner, else "".
std::string graphNote(const FunctionRunner &r) {
  std::string status = r.graphStatus();
  return status.empty() ? "" : "; CUDA graph: " + status;
}

int episode(const Flags &f) {
  std::string error, source;
  int64_t seed, repeat;
  if (!f.integer("--seed", 1, 0, seed, error) ||
      !f.integer("--repeat", 1, 1, repeat, error))
    return fail(error);
  if (!threadsFromFlag(f, error))
    return fail(error);
  EpisodeData e;
  NamedTensors meta;
  if (!episodeData(f, uint64_t(seed), e, source, error) ||
      !metaParameters(f, uint64_t(seed), meta, error))
    return fail(error);
  FunctionRunner runner(M, episodeFunction());
  auto start = std::chrono::steady_clock::now();
  if (!bindEpisode(runner, e, error) || !bindMeta(runner, meta, error) ||
      !runner.run(error))
    return fail(error);
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  NamedTensors r = runner.results();
  // --repeat: the same episode again, each run's results bit for bit the
  // first's (on CUDA the second run records its kernels as a graph and
  // the later ones replay it).
  for (int64_t k = 2; k <= repeat; ++k) {
    std::string run = "run " + std::to_string(k) + " of the same episode";
    if (!runner.run(error))
      return fail(run + ": " + error + graphNote(runner));
    std::string differs = firstDifference(r, runner.results());
    if (!differs.empty())
      return fail(run + " differs from the first in " + differs +
                  graphNote(runner));
  }
  std::printf("episode '%s' on %s\n", M.episode, source.c_str());
  const Tensor<float> &losses = r.at("step_losses");
  for (int64_t t = 0; t < losses.numel(); ++t)
    std::printf("step %2lld  support loss %.6f\n", (long long)t + 1, losses[t]);
  std::printf("meta-loss (query, theta_T, batch statistics) %.6f  accuracy "
              "%.4f\n",
              r.at("meta_loss")[0], accuracy(r.at("query_logits"), e.queryY));
  if (r.count("query_eval_loss"))
    std::printf("query (running statistics of the support steps) loss %.6f  "
                "accuracy %.4f\n",
                r.at("query_eval_loss")[0],
                accuracy(r.at("query_eval_logits"), e.queryY));
  std::printf("meta-gradient global norm %.6e\n", Adam::globalNorm(meta, r));
  std::printf("time %.1f ms\n", ms);
  if (repeat > 1)
    std::printf("runs: %lld, each identical to the first\n", (long long)repeat);
  if (std::string graph = runner.graphStatus(); !graph.empty())
    std::printf("CUDA graph: %s\n", graph.c_str());
  if (std::string streams = runner.streamsStatus(); !streams.empty())
    std::printf("CUDA streams: %s\n", streams.c_str());
  std::string dump = f.str("--dump");
  if (dump.empty())
    return 0;
  data::NpzWriter npz;
  npz.add("support_x", e.supportX);
  npz.add("support_y", e.supportY);
  npz.add("query_x", e.queryX);
  npz.add("query_y", e.queryY);
  addMetaArrays(npz, meta);
  for (auto &[name, t] : r)
    npz.add(name, t);
  if (data::Status s = npz.write(dump); !s)
    return fail(s.message());
  std::printf("wrote %s\n", dump.c_str());
  return 0;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: %s info\n"
      "       %s train --data DIR --episodes N --out RUN [--resume] [--seed S]\n"
      "             [--val-every N] [--val-episodes N] [--save-every N] "
      "[--threads N]\n"
      "       %s test --data DIR --checkpoint PATH|init [--episodes N] "
      "[--split test|val]\n"
      "             [--seed S] [--json FILE] [--threads N]\n"
      "       %s bench [--iters N] [--warmup N] [--threads N] [--seed N] "
      "[--profile TOP]\n"
      "       %s episode [--data DIR|EPISODE.npz] [--meta PARAMS.npz] "
      "[--dump OUT.npz] [--seed N] [--threads N]\n"
      "             [--repeat N]\n",
      programName, programName, programName, programName, programName);
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  programName = argv[0];
  // Kernels allocate their stored stages on every call; keep freed memory
  // in the heap instead of returning it to the system (which would cost
  // fresh page faults on every call).
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, -1);
  if (M.abi_version != LOPT_ABI_VERSION)
    return fail("the program was generated for driver ABI " +
                std::to_string(M.abi_version) + ", this driver speaks " +
                std::to_string(LOPT_ABI_VERSION));
  captureHalideErrors();
  if (argc < 2)
    return usage();
  std::string cmd = argv[1], error;
  Flags f;
  if (cmd == "info")
    return argc == 2 ? info() : fail("info takes no options");
  bool runs = cmd == "bench" || cmd == "episode" || cmd == "train" ||
              cmd == "test";
  if (runs) {
    // Before any kernel runs: on a CPU without the target's features the
    // first one stops on SIGILL.
    error = checkCpu(M.target);
    if (!error.empty() || !checkDevice(error))
      return fail(error);
  }
  if (cmd == "bench") {
    if (!f.parse(argc, argv, 2,
                 {"--iters", "--warmup", "--threads", "--seed", "--profile"},
                 error))
      return fail(error);
    return bench(f);
  }
  if (cmd == "episode") {
    if (!f.parse(argc, argv, 2,
                 {"--data", "--meta", "--dump", "--seed", "--threads",
                  "--repeat"},
                 error))
      return fail(error);
    return episode(f);
  }
  if (cmd == "train") {
    if (!f.parse(argc, argv, 2, trainFlags, error, trainSwitches))
      return fail(error);
    return trainCommand(f);
  }
  if (cmd == "test") {
    if (!f.parse(argc, argv, 2, testFlags, error))
      return fail(error);
    return testCommand(f);
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    usage();
    return 0;
  }
  fail("unknown command '" + cmd + "'");
  return usage();
}
