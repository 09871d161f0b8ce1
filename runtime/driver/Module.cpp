//===- Module.cpp - what the driver knows of the generated program --------===//
#include "runtime/driver/Module.h"

#include "runtime/Random.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sys/resource.h>
#include <thread>

namespace lopt::driver {

const char *programName = "lopt-binary";

int fail(const std::string &msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s: error: %s\n", programName, msg.c_str());
  return 1;
}

void note(const std::string &msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s: %s\n", programName, msg.c_str());
}

Shape shapeOf(const int64_t *dims, int32_t rank) {
  return Shape(dims, dims + rank);
}

Shape argShape(const lopt_function &fn, const char *name) {
  for (int a = 0; a < fn.num_args; ++a)
    if (std::strcmp(fn.args[a].name, name) == 0) {
      const lopt_buffer &b = fn.buffers[fn.args[a].slot];
      return shapeOf(b.shape, b.rank);
    }
  return {};
}

bool hasResult(const lopt_function &fn, const char *name) {
  for (int r = 0; r < fn.num_results; ++r)
    if (std::strcmp(fn.results[r].name, name) == 0)
      return true;
  return false;
}

bool runningStatisticsAtTest() {
  return hasResult(evalFunction(), "query_eval_logits");
}

const lopt_function *trainFunction() {
  return M.train_function < 0 ? nullptr : &M.functions[M.train_function];
}

const lopt_function &evalFunction() { return M.functions[M.eval_function]; }

const lopt_function &episodeFunction() {
  return trainFunction() ? *trainFunction() : evalFunction();
}

data::EpisodeSpec episodeSpec() {
  return {int(M.ways), int(M.shots), int(M.queries)};
}

data::ImageSpec imageSpec() {
  Shape s = argShape(evalFunction(), "support_x");
  return {int(s[1]), int(s[2]), int(s[3])};
}

std::vector<InitEntry> initEntries() {
  std::vector<InitEntry> out;
  for (int i = 0; i < M.num_inits; ++i) {
    const lopt_init &e = M.inits[i];
    InitSpec spec{e.kind, e.a, e.b, e.fan_in};
    out.push_back({e.name, e.piece, shapeOf(e.shape, e.rank), spec});
  }
  return out;
}

NamedTensors initialisation(uint64_t seed) {
  return sampleInits(initEntries(), seed ^ 0x5eedull);
}

bool theta0PerEpisode() { return std::strcmp(M.init, "random") == 0; }

void redrawTheta0(NamedTensors &meta, uint64_t seed) {
  std::vector<InitEntry> pieces;
  for (const InitEntry &e : initEntries())
    if (!e.piece.empty())
      pieces.push_back(e);
  meta["theta0"] = sampleInits(pieces, seed).at("theta0");
}

uint64_t streamSeed(uint64_t seed, Stream stream, int64_t index) {
  Rng a(seed ^ (uint64_t(stream) * 0x9e3779b97f4a7c15ull));
  Rng b(a.next() ^ uint64_t(index));
  return b.next();
}

bool bindEpisode(FunctionRunner &r, const EpisodeData &e,
                 std::string &error) {
  return r.setArg("support_x", e.supportX, error) &&
         r.setArg("support_y", e.supportY, error) &&
         r.setArg("query_x", e.queryX, error) &&
         r.setArg("query_y", e.queryY, error);
}

bool bindMeta(FunctionRunner &r, const NamedTensors &meta,
              std::string &error) {
  const lopt_function &fn = r.function();
  for (int a = 0; a < fn.num_args; ++a)
    if (isMetaArgument(fn.args[a].role, fn.args[a].name)) {
      auto it = meta.find(fn.args[a].name);
      if (it == meta.end()) {
        error = std::string("no value for '") + fn.args[a].name + "'";
        return false;
      }
      if (!r.setArg(fn.args[a].name, it->second, error))
        return false;
    }
  return true;
}

std::shared_ptr<Arena>
sharedArena(std::initializer_list<const lopt_function *> functions) {
  int64_t bytes = 0;
  for (const lopt_function *fn : functions) {
    for (int a = 0; a < fn->num_args; ++a) {
      std::string name = fn->args[a].name;
      bool episode = name == "support_x" || name == "support_y" ||
                     name == "query_x" || name == "query_y";
      if (!episode && !isMetaArgument(fn->args[a].role, fn->args[a].name))
        return nullptr;
    }
    bytes = std::max(bytes, fn->arena_bytes);
  }
  return std::make_shared<Arena>(bytes);
}

double accuracy(const Tensor<float> &logits, const Tensor<int32_t> &labels) {
  int64_t n = logits.shape[0], c = logits.shape[1], right = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float *row = logits.data.data() + i * c;
    right += std::max_element(row, row + c) - row == labels[i];
  }
  return double(right) / double(n);
}

int64_t threadsFromFlag(const Flags &f, std::string &error) {
  int64_t def = std::max(1u, std::thread::hardware_concurrency());
  if (const char *env = std::getenv("HL_NUM_THREADS"))
    def = std::max(1, std::atoi(env));
  int64_t n = 0;
  if (!f.integer("--threads", def, 1, n, error))
    return 0;
  if (n > 1024) {
    error = "option '--threads' expects at most 1024 threads, got " +
            std::to_string(n);
    return 0;
  }
  halide_set_num_threads(int(n));
  return n;
}

double peakRssMb() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

std::string mebibytes(int64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f MiB", double(bytes) / (1 << 20));
  return buf;
}

std::string duration(double seconds) {
  long s = long(seconds + 0.5);
  char buf[64];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

} // namespace lopt::driver
