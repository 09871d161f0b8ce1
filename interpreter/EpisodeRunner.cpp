//===- EpisodeRunner.cpp - run unrolled episodes in the interpreter -------===//
#include "interpreter/EpisodeRunner.h"

#include "runtime/Init.h"
#include "runtime/Random.h"
#include "runtime/EpisodeData.h"

using namespace mlir;

namespace lopt {

bool EpisodeFunctions::find(ModuleOp module, EpisodeOp ep,
                            std::string &error) {
  episode = ep;
  support = module.lookupSymbol<func::FuncOp>(ep.getSupport());
  std::string name = ep.getSymName().str();
  unrolled = module.lookupSymbol<func::FuncOp>(name + ".unrolled");
  metaGrad = module.lookupSymbol<func::FuncOp>(name + ".meta_grad");
  if (!support || !unrolled) {
    error = "episode '" + name + "' has not been unrolled";
    return false;
  }
  return true;
}

std::vector<InitEntry> metaInitialisers(const EpisodeFunctions &fns) {
  std::vector<InitEntry> entries;
  for (const OperandInfo &a : describeArguments(fns.support))
    if (a.role == role::kParam)
      entries.push_back({"theta0", a.name, a.shape, a.init});
  for (const OperandInfo &a : describeArguments(fns.unrolled))
    if (isMetaArgument(a.role, a.name) && a.name != "theta0")
      entries.push_back({a.name, "", a.shape, a.init});
  return entries;
}

NamedTensors initialMetaParameters(const EpisodeFunctions &fns,
                                   uint64_t seed) {
  return sampleInits(metaInitialisers(fns), seed);
}

EpisodeData syntheticEpisode(const EpisodeFunctions &fns, uint64_t seed) {
  std::vector<OperandInfo> args = describeArguments(fns.unrolled);
  return lopt::syntheticEpisode(args[0].shape, args[2].shape,
                                fns.episode.getWays(), seed);
}

template <typename T>
bool episodeArguments(func::FuncOp fn, const EpisodeData &data,
                      const NamedTensors &meta, std::vector<RtValue<T>> &args,
                      std::string &error) {
  args.clear();
  for (const OperandInfo &a : describeArguments(fn)) {
    if (a.name == "support_x")
      args.emplace_back(data.supportX.cast<T>());
    else if (a.name == "support_y")
      args.emplace_back(data.supportY);
    else if (a.name == "query_x")
      args.emplace_back(data.queryX.cast<T>());
    else if (a.name == "query_y")
      args.emplace_back(data.queryY);
    else if (auto it = meta.find(a.name); it != meta.end())
      args.emplace_back(it->second.cast<T>());
    else {
      error = "no value for argument '" + a.name + "' " +
              shapeToString(a.shape);
      return false;
    }
    if (args.back().shape() != a.shape) {
      error = "'" + a.name + "' has shape " +
              shapeToString(args.back().shape()) + ", expected " +
              shapeToString(a.shape);
      return false;
    }
  }
  return true;
}

template <typename T>
std::map<std::string, Tensor<T>>
namedResults(func::FuncOp fn, const std::vector<RtValue<T>> &results) {
  std::map<std::string, Tensor<T>> out;
  std::vector<OperandInfo> info = describeResults(fn);
  for (size_t i = 0; i < info.size() && i < results.size(); ++i)
    out[resultKey(info[i].role, info[i].name)] = results[i].f;
  return out;
}

template bool episodeArguments<float>(func::FuncOp, const EpisodeData &,
                                      const NamedTensors &,
                                      std::vector<RtValue<float>> &,
                                      std::string &);
template bool episodeArguments<double>(func::FuncOp, const EpisodeData &,
                                       const NamedTensors &,
                                       std::vector<RtValue<double>> &,
                                       std::string &);
template std::map<std::string, Tensor<float>>
namedResults<float>(func::FuncOp, const std::vector<RtValue<float>> &);
template std::map<std::string, Tensor<double>>
namedResults<double>(func::FuncOp, const std::vector<RtValue<double>> &);

} // namespace lopt
