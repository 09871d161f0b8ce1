//===- EpisodeRunner.cpp - run unrolled episodes in the interpreter -------===//
#include "interpreter/EpisodeRunner.h"

#include "runtime/Init.h"
#include "runtime/Random.h"

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

NamedTensors initialMetaParameters(const EpisodeFunctions &fns,
                                   uint64_t seed) {
  Rng rng(seed);
  NamedTensors meta;
  std::vector<float> theta;
  for (const OperandInfo &a : describeArguments(fns.support))
    if (a.role == role::kParam) {
      Tensor<float> t = sampleInit(a.init, a.shape, rng);
      theta.insert(theta.end(), t.data.begin(), t.data.end());
    }
  int64_t numParams = int64_t(theta.size()); // before theta is moved from
  meta["theta0"] = Tensor<float>({numParams}, std::move(theta));
  for (const OperandInfo &a : describeArguments(fns.unrolled))
    if ((a.role == role::kMeta || a.role == role::kMetaCoord ||
         a.role == role::kState) &&
        a.name != "theta0")
      meta[a.name] = sampleInit(a.init, a.shape, rng);
  return meta;
}

EpisodeData syntheticEpisode(const EpisodeFunctions &fns, uint64_t seed) {
  Rng rng(seed);
  std::vector<OperandInfo> args = describeArguments(fns.unrolled);
  EpisodeData d;
  d.supportX = Tensor<float>(args[0].shape);
  d.queryX = Tensor<float>(args[2].shape);
  for (Tensor<float> *t : {&d.supportX, &d.queryX})
    for (float &v : t->data)
      v = float(rng.uniform());
  int64_t ways = fns.episode.getWays();
  auto labels = [&](int64_t n) {
    Tensor<int32_t> y({n});
    for (int64_t i = 0; i < n; ++i)
      y[i] = int32_t(i / (n / ways)); // class-major
    return y;
  };
  d.supportY = labels(args[1].shape[0]);
  d.queryY = labels(args[3].shape[0]);
  return d;
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
    out[info[i].role == role::kGrad ? "grad/" + info[i].name
                                    : info[i].name] = results[i].f;
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
