//===- EpisodeSampler.cpp - seeded N-way K-shot episodes ------------------===//
//
// Class and image choice by partial Fisher-Yates shuffles driven by lopt::Rng
// (SplitMix64); the order of generator calls is part of the reproducibility
// contract (classes first, then each chosen class's images in label order).
//
//===----------------------------------------------------------------------===//

#include "runtime/EpisodeSampler.h"

#include <numeric>

namespace lopt::data {

namespace {
// The first k entries of a uniformly random permutation of 0..n-1.
std::vector<size_t> chooseDistinct(Rng &rng, size_t n, size_t k) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  for (size_t j = 0; j < k; ++j)
    std::swap(idx[j], idx[j + size_t(rng.below(n - j))]);
  idx.resize(k);
  return idx;
}
} // namespace

Status sampleEpisode(Dataset &dataset, const EpisodeSpec &spec, uint64_t seed,
                     Episode &out) {
  if (spec.ways < 1 || spec.shots < 1 || spec.queries < 0)
    return Status::error(
        "episode spec: need ways >= 1, shots >= 1 and queries >= 0; got "
        "ways=" +
        std::to_string(spec.ways) + " shots=" + std::to_string(spec.shots) +
        " queries=" + std::to_string(spec.queries));
  size_t ways = size_t(spec.ways), shots = size_t(spec.shots),
         queries = size_t(spec.queries), perClass = shots + queries;
  if (dataset.numClasses() < ways)
    return Status::error(dataset.describe() + ": has " +
                         std::to_string(dataset.numClasses()) +
                         " classes, fewer than ways=" + std::to_string(ways));
  // Check every class, not just the drawn ones, so that a too-small class is
  // reported on the first episode whatever the seed.
  for (size_t c = 0; c < dataset.numClasses(); ++c)
    if (dataset.numImages(c) < perClass)
      return Status::error(
          dataset.describe() + ": class '" + dataset.className(c) + "' has " +
          std::to_string(dataset.numImages(c)) +
          " images, fewer than shots + queries = " + std::to_string(perClass));

  const ImageSpec &is = dataset.spec();
  size_t imageSize = dataset.imageSize();
  Shape imageDims = {is.channels, is.height, is.width};
  out.supportImages = Tensor<float>(
      {int64_t(ways * shots), imageDims[0], imageDims[1], imageDims[2]});
  out.queryImages = Tensor<float>(
      {int64_t(ways * queries), imageDims[0], imageDims[1], imageDims[2]});
  out.supportLabels = Tensor<int32_t>({int64_t(ways * shots)});
  out.queryLabels = Tensor<int32_t>({int64_t(ways * queries)});
  out.classNames.clear();

  Rng rng(seed);
  std::vector<size_t> classes = chooseDistinct(rng, dataset.numClasses(), ways);
  for (size_t label = 0; label < ways; ++label) {
    size_t c = classes[label];
    out.classNames.push_back(dataset.className(c));
    std::vector<size_t> images =
        chooseDistinct(rng, dataset.numImages(c), perClass);
    for (size_t j = 0; j < perClass; ++j) {
      bool support = j < shots;
      size_t row = support ? label * shots + j : label * queries + (j - shots);
      float *dst = (support ? out.supportImages : out.queryImages).data.data() +
                   row * imageSize;
      if (Status s = dataset.loadImage(c, images[j], dst); !s)
        return s;
      (support ? out.supportLabels : out.queryLabels)[int64_t(row)] =
          int32_t(label);
    }
  }
  return Status::success();
}

} // namespace lopt::data
