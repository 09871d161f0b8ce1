//===- Synthetic.h - random episodes of a given shape -----------*- C++ -*-===//
//
// The data of one episode (EpisodeData), and seeded random images in
// [0, 1) with balanced class-major labels, like the
// episode sampler lays real episodes out. For gradient checks, tests and
// benchmarks that need an episode's shapes, not its content.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_SYNTHETIC_H
#define LOPT_RUNTIME_SYNTHETIC_H

#include "runtime/Random.h"
#include "runtime/Tensor.h"

namespace lopt {

/// The data of one episode, as the episode functions take it.
struct EpisodeData {
  Tensor<float> supportX, queryX;
  Tensor<int32_t> supportY, queryY;
};

/// `supportX`/`queryX` give the image batches' shapes ([n, ...]).
inline EpisodeData syntheticEpisode(const Shape &supportX,
                                         const Shape &queryX, int64_t ways,
                                         uint64_t seed) {
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

} // namespace lopt

#endif // LOPT_RUNTIME_SYNTHETIC_H
