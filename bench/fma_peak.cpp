// The machine's single-precision FMA peak, measured: each thread runs
// independent chains of vector fused multiply-adds (enough of them to hide
// the FMA latency) on registers only. Compiled with -O3 -march=native by
// bench/run_benchmarks.py; prints one JSON line.
//
//   fma_peak [THREADS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float vec __attribute__((vector_size(kLanes * 4)));

constexpr int kChains = 12;
constexpr long kIters = 200000000 / kLanes;

static float run(float seed) {
  vec acc[kChains], a, b;
  for (int i = 0; i < kLanes; ++i) {
    a[i] = 0.999f;
    b[i] = seed * 1e-3f;
  }
  for (int c = 0; c < kChains; ++c)
    acc[c] = a * float(c);
  for (long i = 0; i < kIters; ++i)
    for (int c = 0; c < kChains; ++c)
      acc[c] = acc[c] * a + b; // contracted to one FMA with -march=native
  float s = 0;
  for (int c = 0; c < kChains; ++c)
    for (int i = 0; i < kLanes; ++i)
      s += acc[c][i];
  return s;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  std::vector<float> sink(threads);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sink[t] = run(float(t + 1)); });
    for (std::thread &t : pool)
      t.join();
    double s = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - start).count();
    double flops = 2.0 * kLanes * kChains * double(kIters) * threads;
    best = std::max(best, flops / s / 1e9);
  }
  std::printf("{\"threads\": %d, \"lanes\": %d, \"gflops\": %.1f, \"sink\": %g}\n",
              threads, kLanes, best, double(sink[0]));
}
