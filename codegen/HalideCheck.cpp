//===- HalideCheck.cpp - Halide 14 in the compiler's process --------------===//
#include "codegen/HalideCheck.h"
#include "codegen/HostTarget.h"

#include <Halide.h>

namespace lopt::codegen {

bool checkHalide(std::string &report) {
  try {
    // y(x) = 2 * in(x) + 1 over 1,000 elements, vectorised and parallel: it
    // exercises Halide's LLVM 14 code generator and its thread pool.
    Halide::Buffer<float> in(1000);
    for (int i = 0; i < 1000; ++i)
      in(i) = float(i) * 0.5f;
    Halide::Var x("x"), xo("xo"), xi("xi");
    Halide::Func y("y");
    y(x) = 2.0f * in(x) + 1.0f;
    y.split(x, xo, xi, 64, Halide::TailStrategy::GuardWithIf)
        .vectorize(xi, 16)
        .parallel(xo);
    Halide::Target target = jitTarget();
    Halide::Buffer<float> out = y.realize({1000}, target);
    for (int i = 0; i < 1000; ++i)
      if (out(i) != float(i) + 1.0f) {
        report = "Halide produced " + std::to_string(out(i)) + " at " +
                 std::to_string(i) + ", expected " + std::to_string(i + 1);
        return false;
      }
    report = "Halide JIT ok, target " + target.to_string();
    return true;
  } catch (const Halide::Error &e) {
    report = std::string("Halide error: ") + e.what();
    return false;
  }
}

} // namespace lopt::codegen
