//===- EpisodeSampler.h - seeded N-way K-shot episodes ----------*- C++ -*-===//
//
// Draws few-shot episodes (support + query sets) from a Dataset. Sampling is
// a pure function of (dataset, spec, seed) and uses its own generator, so an
// episode is bit-identical on every platform and standard library.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_EPISODESAMPLER_H
#define LOPT_RUNTIME_EPISODESAMPLER_H

#include "runtime/Dataset.h"
#include "runtime/Random.h"
#include "runtime/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lopt::data {

struct EpisodeSpec {
  int ways, shots, queries; // ways >= 1, shots >= 1, queries >= 0
};

struct Episode {
  Tensor<float> supportImages;   // [ways*shots, C, H, W]; class-major: all
                                 // shots of class 0, then class 1, ...
  Tensor<int32_t> supportLabels; // [ways*shots], labels 0..ways-1
  Tensor<float> queryImages;     // [ways*queries, C, H, W], class-major
  Tensor<int32_t> queryLabels;   // [ways*queries]
  std::vector<std::string> classNames; // ways names, index = label
};

/// Seeded and reproducible on every platform. Picks `ways` distinct classes,
/// then shots+queries distinct images per class (the first `shots` form the
/// support set). Errors (naming the class) when a class of the split has
/// fewer than shots+queries images (every class is checked, so the error
/// does not depend on the seed), or when the split has fewer classes than
/// ways. On error `out` is left in an unspecified state.
Status sampleEpisode(Dataset &dataset, const EpisodeSpec &spec, uint64_t seed,
                     Episode &out);

} // namespace lopt::data

#endif // LOPT_RUNTIME_EPISODESAMPLER_H
