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

#include <string>

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

} // namespace lopt

#endif // LOPT_RUNTIME_INIT_H
