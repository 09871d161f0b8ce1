//===- EpisodeCommand.cpp - loptc episode: run an episode on real data ----===//
//
// Samples one seeded N-way K-shot episode from a dataset, initialises the
// learner the way the description says, and evaluates the support batches
// and the query set with the reference interpreter. Inner updates need the
// learner gradient (the autodiff stage), so this reports the losses at the
// initial parameters.
//
//===----------------------------------------------------------------------===//
#include "tools/loptc/Driver.h"

#include "dialect/LoptOps.h"
#include "interpreter/Interpreter.h"
#include "interpreter/RefOps.h"
#include "runtime/Dataset.h"
#include "runtime/EpisodeSampler.h"
#include "runtime/Init.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

using namespace lopt;
using namespace mlir;

namespace {

/// printf-style line on stdout. (llvm::format would instantiate LLVM
/// templates whose vtables libLLVM-14, loaded by Halide, could bind to.)
template <typename... Args> void printLine(const char *fmt, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  llvm::outs() << buf << "\n";
}

int fail(const llvm::Twine &msg) {
  llvm::errs() << "loptc episode: error: " << msg << "\n";
  return 1;
}

/// The learner's arguments for a batch: images and labels, then parameters
/// and batch-norm statistics taken from `state` by name.
std::vector<RtValue<float>>
learnerArgs(func::FuncOp fn, const Tensor<float> &images,
            const Tensor<int32_t> &labels,
            const std::map<std::string, Tensor<float>> &state) {
  std::vector<RtValue<float>> args;
  for (const OperandInfo &a : describeArguments(fn)) {
    if (a.role == role::kInput)
      args.emplace_back(images);
    else if (a.role == role::kLabels)
      args.emplace_back(labels);
    else
      args.emplace_back(state.at(a.name));
  }
  return args;
}

/// Rows [begin, begin + n) of a batch-major tensor.
template <typename T>
Tensor<T> rows(const Tensor<T> &t, int64_t begin, int64_t n) {
  Shape s = t.shape;
  int64_t row = t.numel() / s[0];
  s[0] = n;
  return Tensor<T>(s, std::vector<T>(t.data.begin() + begin * row,
                                     t.data.begin() + (begin + n) * row));
}

struct Eval {
  double loss = 0, accuracy = 0;
};

/// Runs a learner function on one batch, updating batch-norm statistics in
/// `state` when the function returns them.
bool evaluate(func::FuncOp fn, const Tensor<float> &images,
              const Tensor<int32_t> &labels,
              std::map<std::string, Tensor<float>> &state, Eval &out,
              std::string &error) {
  std::vector<RtValue<float>> results;
  if (!interpret<float>(fn, learnerArgs(fn, images, labels, state), results,
                        error))
    return false;
  std::vector<OperandInfo> info = describeResults(fn);
  for (size_t i = 0; i < info.size(); ++i) {
    if (info[i].role == role::kLoss)
      out.loss = results[i].f[0];
    else if (info[i].role == role::kLogits)
      out.accuracy = ref::accuracy(results[i].f, labels);
    else if (info[i].role == role::kBnState)
      state[info[i].name] = results[i].f;
  }
  return true;
}

/// --data, else ../shared/data/omniglot, else Debian's Fashion-MNIST.
std::string chooseData(const std::string &given) {
  if (!given.empty())
    return given;
  for (const char *candidate :
       {"../shared/data/omniglot", "/usr/share/datasets/fashion-mnist"})
    if (llvm::sys::fs::is_directory(candidate))
      return candidate;
  return "";
}

} // namespace

int lopt::runEpisodeCommand(const std::string &file,
                            const std::string &dataGiven,
                            const std::string &episodeName, uint64_t seed) {
  Description d;
  if (!d.load(file))
    return 1;
  EpisodeOp episode;
  for (auto e : d.module->getOps<EpisodeOp>())
    if (episodeName.empty() || e.getSymName() == episodeName) {
      episode = e;
      break;
    }
  if (!episode)
    return fail(episodeName.empty()
                    ? "'" + file + "' declares no episode"
                    : "'" + file + "' has no episode named '" + episodeName +
                          "'");
  SymbolTable symbols(*d.module);
  auto support = symbols.lookup<func::FuncOp>(episode.getSupport());
  auto query = symbols.lookup<func::FuncOp>(episode.getQuery());
  func::FuncOp queryEval;
  if (auto qe = episode.getQueryEval())
    queryEval = symbols.lookup<func::FuncOp>(*qe);

  Shape input = describeArguments(support)[0].shape;
  if (input.size() != 4)
    return fail("the learner input must be an image [channels, height, "
                "width] to read a dataset, got " +
                shapeToString(Shape(input.begin() + 1, input.end())));
  std::string dataPath = chooseData(dataGiven);
  if (dataPath.empty())
    return fail("no data: pass --data DIR (Omniglot, Mini-ImageNet or "
                "Fashion-MNIST); neither ../shared/data/omniglot nor "
                "/usr/share/datasets/fashion-mnist exists (apt-get install "
                "dataset-fashion-mnist)");
  data::ImageSpec spec{int(input[1]), int(input[2]), int(input[3])};
  std::unique_ptr<data::Dataset> dataset;
  if (data::Status s =
          data::openDataset(dataPath, data::Split::Train, spec, dataset);
      !s)
    return fail(s.message());
  data::EpisodeSpec shape{int(episode.getWays()), int(episode.getShots()),
                          int(episode.getQueries())};
  data::Episode ep;
  if (data::Status s = data::sampleEpisode(*dataset, shape, seed, ep); !s)
    return fail(s.message());

  // Initial learner parameters theta_0 and fresh batch-norm statistics.
  Rng rng(seed ^ 0x5eedull);
  std::map<std::string, Tensor<float>> state;
  int64_t numParams = 0;
  for (const OperandInfo &a : describeArguments(support))
    if (a.role == role::kParam || a.role == role::kBnState) {
      state[a.name] = sampleInit(a.init, a.shape, rng);
      if (a.role == role::kParam)
        numParams += numElements(a.shape);
    }

  llvm::outs() << "description: " << file << ", episode '"
               << episode.getSymName() << "' (" << episode.getWays()
               << "-way " << episode.getShots() << "-shot, "
               << episode.getQueries() << " queries per class, "
               << episode.getSteps() << " inner steps)\n";
  llvm::outs() << "data: " << dataset->describe() << "\n";
  llvm::outs() << "seed " << seed << ", classes:";
  for (const std::string &c : ep.classNames)
    llvm::outs() << " " << c;
  llvm::outs() << "\nlearner: " << numParams << " parameters\n";

  std::string error;
  int64_t ib = episode.getInnerBatch(), n = ep.supportImages.dim(0);
  Eval sum;
  for (int64_t b = 0; b < n; b += ib) {
    Eval e;
    if (!evaluate(support, rows(ep.supportImages, b, ib),
                  rows(ep.supportLabels, b, ib), state, e, error))
      return fail(error);
    sum.loss += e.loss / double(n / ib);
    sum.accuracy += e.accuracy / double(n / ib);
  }
  printLine("support loss %.6f  accuracy %.4f  (theta_0, %lld batches of "
            "%lld)",
            sum.loss, sum.accuracy, (long long)(n / ib), (long long)ib);
  // The training-mode query pass normalises with its own batch statistics;
  // its updated running statistics must not leak into the evaluation pass.
  Eval q;
  std::map<std::string, Tensor<float>> queryState = state;
  if (!evaluate(query, ep.queryImages, ep.queryLabels, queryState, q, error))
    return fail(error);
  printLine("query   loss %.6f  accuracy %.4f  (theta_0, batch statistics)",
            q.loss, q.accuracy);
  if (queryEval) {
    Eval qe;
    if (!evaluate(queryEval, ep.queryImages, ep.queryLabels, state, qe, error))
      return fail(error);
    printLine("query   loss %.6f  accuracy %.4f  (theta_0, running "
              "statistics of the support batches)",
              qe.loss, qe.accuracy);
  }
  return 0;
}
