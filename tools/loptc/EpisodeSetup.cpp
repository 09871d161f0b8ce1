//===- EpisodeSetup.cpp - inputs of loptc episode / gradcheck -------------===//
#include "tools/loptc/EpisodeSetup.h"

#include "runtime/Dataset.h"
#include "runtime/EpisodeSampler.h"
#include "runtime/Npz.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"

using namespace mlir;

namespace lopt {

std::string npzKey(const OperandInfo &arg) {
  return metaNpzKey(arg.role, arg.name);
}

bool applyOverrides(EpisodeOp ep, const std::string &truncation,
                    int64_t steps, const char *command) {
  Builder b(ep.getContext());
  if (steps > 0)
    ep.setStepsAttr(b.getI64IntegerAttr(steps));
  llvm::StringRef t(truncation);
  int64_t k = 0;
  if (t.empty()) {
  } else if (t == "first_order" || t == "full") {
    ep.setMetaGradientAttr(b.getStringAttr(t));
    ep.setHorizonAttr(b.getI64IntegerAttr(0));
  } else if (t.consume_front("horizon=") && !t.getAsInteger(10, k) && k > 0) {
    ep.setMetaGradientAttr(b.getStringAttr("horizon"));
    ep.setHorizonAttr(b.getI64IntegerAttr(k));
  } else {
    commandError(command, "--truncation must be first_order, full or "
                          "horizon=K (K >= 1), got '" +
                              truncation + "'");
    return false;
  }
  if (ep.getMetaGradient() == "horizon" && ep.getHorizon() > ep.getSteps()) {
    commandError(command, "the horizon " + std::to_string(ep.getHorizon()) +
                              " exceeds the " +
                              std::to_string(ep.getSteps()) + " inner steps");
    return false;
  }
  return true;
}

namespace {

/// --data DIR (or the default dataset folders): one sampled episode.
bool sampleFromDataset(const std::string &given, const EpisodeOptions &opts,
                       const char *command, PreparedEpisode &out) {
  std::string path = given;
  if (path.empty())
    for (const char *candidate :
         {"../shared/data/omniglot", "/usr/share/datasets/fashion-mnist"})
      if (llvm::sys::fs::is_directory(candidate)) {
        path = candidate;
        break;
      }
  if (path.empty()) {
    commandError(command,
                 "no data: pass --data DIR (Omniglot, Mini-ImageNet or "
                 "Fashion-MNIST) or an episode .npz; neither "
                 "../shared/data/omniglot nor /usr/share/datasets/"
                 "fashion-mnist exists (apt-get install "
                 "dataset-fashion-mnist)");
    return false;
  }
  Shape input = shapeOf(out.fns.support.getArgumentTypes()[0]);
  if (input.size() != 4) {
    commandError(command, "the learner input must be an image [channels, "
                          "height, width] to read a dataset, got " +
                              shapeToString(Shape(input.begin() + 1,
                                                  input.end())));
    return false;
  }
  EpisodeOp ep = out.fns.episode;
  data::EpisodeSpec shape{int(ep.getWays()), int(ep.getShots()),
                          int(ep.getQueries())};
  if (data::Status s =
          sampleDatasetEpisode(path, input, shape, opts.seed, out.data,
                               out.dataSource, &out.classNames);
      !s) {
    commandError(command, s.message());
    return false;
  }
  return true;
}

bool readEpisodeNpz(const std::string &path, const char *command,
                    PreparedEpisode &out) {
  std::vector<OperandInfo> args = describeArguments(out.fns.unrolled);
  if (data::Status s =
          lopt::readEpisodeNpz(path, args[0].shape, args[2].shape, out.data);
      !s) {
    commandError(command, s.message());
    return false;
  }
  out.dataSource = "episode arrays from " + path;
  return true;
}

bool readMetaNpz(const std::string &path, const char *command,
                 PreparedEpisode &out) {
  std::vector<data::NpzArray> arrays;
  data::Status s = data::readNpz(path, arrays);
  for (const OperandInfo &a : describeArguments(out.fns.unrolled)) {
    if (!s)
      break;
    if (!isMetaArgument(a.role, a.name))
      continue;
    s = data::getFloat(arrays, path, npzKey(a), a.shape, out.meta[a.name]);
  }
  if (!s) {
    commandError(command, s.message());
    return false;
  }
  return true;
}

} // namespace

bool prepareEpisode(Description &d, const EpisodeOptions &opts,
                    const char *command, bool syntheticDefault,
                    PreparedEpisode &out) {
  if (!d.load(opts.file))
    return false;
  EpisodeOp ep = d.findEpisode(opts.file, opts.episode);
  if (!ep || !applyOverrides(ep, opts.truncation, opts.steps, command) ||
      !d.runPipeline(Stage::MetaGrad))
    return false;
  std::string error;
  if (!out.fns.find(*d.module, ep, error)) {
    commandError(command, error);
    return false;
  }
  llvm::StringRef data(opts.data);
  bool ok;
  if (data.ends_with(".npz"))
    ok = readEpisodeNpz(opts.data, command, out);
  else if (data.empty() && syntheticDefault) {
    out.data = syntheticEpisode(out.fns, opts.seed);
    out.dataSource = "random images (seed " + std::to_string(opts.seed) + ")";
    ok = true;
  } else {
    ok = sampleFromDataset(opts.data, opts, command, out);
  }
  if (!ok)
    return false;
  if (!opts.meta.empty())
    return readMetaNpz(opts.meta, command, out);
  out.meta = initialMetaParameters(out.fns, opts.seed ^ 0x5eedull);
  return true;
}

} // namespace lopt
