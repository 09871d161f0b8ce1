//===- EpisodeData.cpp - the data of one episode --------------------------===//
#include "runtime/EpisodeData.h"

#include "runtime/Npz.h"
#include "runtime/Random.h"

namespace lopt {

EpisodeData syntheticEpisode(const Shape &supportX, const Shape &queryX,
                             int64_t ways, uint64_t seed) {
  Rng rng(seed);
  EpisodeData d;
  d.supportX = Tensor<float>(supportX);
  d.queryX = Tensor<float>(queryX);
  for (Tensor<float> *t : {&d.supportX, &d.queryX})
    for (float &v : t->data)
      v = float(rng.uniform());
  auto labels = [&](int64_t n) {
    Tensor<int32_t> y({n});
    for (int64_t i = 0; i < n; ++i)
      y[i] = int32_t(i / (n / ways)); // class-major
    return y;
  };
  d.supportY = labels(supportX[0]);
  d.queryY = labels(queryX[0]);
  return d;
}

data::Status readEpisodeNpz(const std::string &path, const Shape &supportX,
                            const Shape &queryX, EpisodeData &out) {
  std::vector<data::NpzArray> arrays;
  data::Status s = data::readNpz(path, arrays);
  if (s)
    s = data::getFloat(arrays, path, "support_x", supportX, out.supportX);
  if (s)
    s = data::getInt(arrays, path, "support_y", {supportX[0]}, out.supportY);
  if (s)
    s = data::getFloat(arrays, path, "query_x", queryX, out.queryX);
  if (s)
    s = data::getInt(arrays, path, "query_y", {queryX[0]}, out.queryY);
  return s;
}

data::Status sampleDatasetEpisode(const std::string &path,
                                  const Shape &supportX,
                                  const data::EpisodeSpec &shape,
                                  uint64_t seed, EpisodeData &out,
                                  std::string &source,
                                  std::vector<std::string> *classNames) {
  data::ImageSpec spec{int(supportX[1]), int(supportX[2]), int(supportX[3])};
  std::unique_ptr<data::Dataset> dataset;
  data::Status s = data::openDataset(path, data::Split::Train, spec, dataset);
  if (s)
    s = sampleEpisodeData(*dataset, shape, seed, out, classNames);
  if (s)
    source = dataset->describe();
  return s;
}

data::Status sampleEpisodeData(data::Dataset &dataset,
                               const data::EpisodeSpec &shape, uint64_t seed,
                               EpisodeData &out,
                               std::vector<std::string> *classNames) {
  data::Episode e;
  data::Status s = data::sampleEpisode(dataset, shape, seed, e);
  if (!s)
    return s;
  out = {std::move(e.supportImages), std::move(e.queryImages),
         std::move(e.supportLabels), std::move(e.queryLabels)};
  if (classNames)
    *classNames = std::move(e.classNames);
  return s;
}

} // namespace lopt
