//===- Random.h - seeded, platform-independent random numbers ---*- C++ -*-===//
//
// std::uniform_*_distribution results differ between standard libraries, so
// reproducible runs use this generator (splitmix64) and its own transforms.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_RANDOM_H
#define LOPT_RUNTIME_RANDOM_H

#include <cmath>
#include <cstdint>

namespace lopt {

class Rng {
public:
  explicit Rng(uint64_t seed) : state(seed) {}

  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box-Muller; one value per call).
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300)
      u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  /// Uniform in [0, n) for n >= 1, without modulo bias (rejection sampling).
  uint64_t below(uint64_t n) {
    uint64_t threshold = (0 - n) % n; // 2^64 mod n
    uint64_t r;
    do
      r = next();
    while (r < threshold);
    return r % n;
  }

private:
  uint64_t state;
};

} // namespace lopt

#endif // LOPT_RUNTIME_RANDOM_H
