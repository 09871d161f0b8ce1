//===- Init.h - parameter initialisers --------------------------*- C++ -*-===//
//
// The initialisers a description can name (zeros, ones, constant, uniform,
// normal, fan_in_uniform), sampled from a seeded Rng. Shared by the
// interpreter-driven tools and generated binaries.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_INIT_H
#define LOPT_RUNTIME_INIT_H

#include "runtime/Random.h"
#include "runtime/Tensor.h"

#include <map>
#include <string>
#include <vector>

namespace lopt {

struct InitSpec {
  std::string kind = "zeros"; // zeros|ones|constant|uniform|normal|fan_in_uniform
  double a = 0, b = 0;        // constant: a; uniform: [a, b); normal: mean a, std b
  int64_t fanIn = 0;          // fan_in_uniform: U(-1/sqrt(fanIn), 1/sqrt(fanIn))
};

/// Samples a tensor of `shape`, element by element in row-major order.
inline Tensor<float> sampleInit(const InitSpec &init, const Shape &shape,
                                Rng &rng) {
  Tensor<float> t(shape);
  double bound = init.fanIn > 0 ? 1.0 / std::sqrt(double(init.fanIn)) : 0;
  for (float &v : t.data) {
    if (init.kind == "ones")
      v = 1;
    else if (init.kind == "constant")
      v = float(init.a);
    else if (init.kind == "uniform")
      v = float(rng.uniform(init.a, init.b));
    else if (init.kind == "normal")
      v = float(init.a + init.b * rng.normal());
    else if (init.kind == "fan_in_uniform")
      v = float(rng.uniform(-bound, bound));
    else
      v = 0;
  }
  return t;
}

/// One meta-parameter (or initial state) to draw. Entries that share a name
/// are drawn in turn and concatenated, flattened, into one vector: theta0
/// is the learner's parameters, piece by piece (`piece` names each).
struct InitEntry {
  std::string name, piece;
  Shape shape;
  InitSpec init;
};

/// Draws every entry, in order, from one generator seeded with `seed`.
inline std::map<std::string, Tensor<float>>
sampleInits(const std::vector<InitEntry> &entries, uint64_t seed) {
  Rng rng(seed);
  std::map<std::string, Tensor<float>> out;
  for (const InitEntry &e : entries) {
    Tensor<float> t = sampleInit(e.init, e.shape, rng);
    if (e.piece.empty()) {
      out[e.name] = std::move(t);
      continue;
    }
    Tensor<float> &v = out[e.name];
    v.data.insert(v.data.end(), t.data.begin(), t.data.end());
    v.shape = {int64_t(v.data.size())};
  }
  return out;
}

} // namespace lopt

#endif // LOPT_RUNTIME_INIT_H
