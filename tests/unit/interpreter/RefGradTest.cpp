//===- RefGradTest.cpp - checks of the reference autodiff ops -------------===//
//
// The gradient ops (conv2dBackwardData/Filter, maxpoolBackward,
// preprocessGrad, lstmCellGrad, affineGrad) are checked in double against
// central finite differences of the forward reference op: with a random
// adjoint G, L = sum(G * forward(...)), and dL/dx_k is approximated by
// sum_m G_m (F(x + h e_k)_m - F(x - h e_k)_m) / (2h) (the differences are
// taken per output element before weighting, so unrelated terms of L do not
// cancel). The transposes (maxpoolGather, broadcastInDim, unslice,
// conv2dBackward*) are checked through adjoint identities <A x, y> =
// <x, A^T y>; the remaining ops against hand-computed values. Random data
// comes from a fixed-seed std::mt19937_64 with our own [0,1) conversion so
// values do not depend on the standard library's distributions.
//
//===----------------------------------------------------------------------===//
#include "interpreter/RefOps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <vector>

using namespace lopt;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Deterministic uniform doubles from a fixed-seed 64-bit Mersenne twister.
struct Rand {
  std::mt19937_64 gen;
  explicit Rand(uint64_t seed) : gen(seed) {}
  /// Uniform in [0,1): the top 53 bits of one draw, times 2^-53.
  double unit() { return double(gen() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  Tensor<double> tensor(Shape shape, double lo = -1, double hi = 1) {
    Tensor<double> t(std::move(shape));
    for (double &v : t.data)
      v = uniform(lo, hi);
    return t;
  }
  /// Distinct values, every two at least ~0.08 apart: a random permutation of
  /// 0, 0.1, 0.2, ... plus noise in [-0.01, 0.01), minus half the range.
  Tensor<double> distinct(Shape shape) {
    Tensor<double> t(std::move(shape));
    const int64_t n = t.numel();
    std::vector<int64_t> perm(n);
    for (int64_t i = 0; i < n; ++i)
      perm[i] = i;
    for (int64_t i = n - 1; i > 0; --i) // Fisher-Yates with our own draws
      std::swap(perm[i], perm[int64_t(unit() * double(i + 1))]);
    for (int64_t i = 0; i < n; ++i)
      t[i] = 0.1 * double(perm[i] - n / 2) + uniform(-0.01, 0.01);
    return t;
  }
};

/// <a, b> = sum_i a[i]*b[i] over equal shapes.
double dot(const Tensor<double> &a, const Tensor<double> &b) {
  EXPECT_EQ(a.shape, b.shape);
  double acc = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    acc += a[i] * b[i];
  return acc;
}

double maxAbs(const Tensor<double> &t) {
  double m = 0;
  for (double v : t.data)
    m = std::max(m, std::fabs(v));
  return m;
}

/// Central finite-difference gradient of L(x) = <G, F(x)> w.r.t. x, with a
/// per-element step h(k) (default 1e-6): returns a tensor shaped like x.
Tensor<double>
numericGrad(const Tensor<double> &x, const Tensor<double> &G,
            const std::function<Tensor<double>(const Tensor<double> &)> &F,
            const std::function<double(int64_t)> &step = nullptr) {
  Tensor<double> grad(x.shape);
  Tensor<double> xp = x, xm = x;
  for (int64_t k = 0; k < x.numel(); ++k) {
    const double h = step ? step(k) : 1e-6;
    xp[k] = x[k] + h;
    xm[k] = x[k] - h;
    const Tensor<double> fp = F(xp), fm = F(xm);
    xp[k] = x[k];
    xm[k] = x[k];
    EXPECT_EQ(G.shape, fp.shape);
    double acc = 0;
    for (int64_t m = 0; m < G.numel(); ++m)
      acc += G[m] * (fp[m] - fm[m]);
    grad[k] = acc / (2 * h);
  }
  return grad;
}

/// Relative error max|num - ana| / max|ana| below 1e-6, shapes equal.
void expectGradNear(const Tensor<double> &numeric,
                    const Tensor<double> &analytic, const char *what) {
  ASSERT_EQ(numeric.shape, analytic.shape) << what;
  double err = 0;
  for (int64_t i = 0; i < numeric.numel(); ++i)
    err = std::max(err, std::fabs(numeric[i] - analytic[i]));
  const double scale = maxAbs(analytic);
  ASSERT_GT(scale, 0) << what << ": analytic gradient is all zero";
  EXPECT_LT(err / scale, 1e-6)
      << what << ": max abs error " << err << ", max |grad| " << scale;
}

/// Exact-arithmetic identity check in double: |a - b| <= 1e-12 * max(1,|a|).
void expectIdentity(double a, double b, const char *what) {
  EXPECT_NEAR(a, b, 1e-12 * std::max(1.0, std::fabs(a))) << what;
}

/// Element-type-dependent comparisons for the typed tests.
template <class T> class RefGradTest : public ::testing::Test {
protected:
  static double tol(double expected) {
    const double base = std::is_same<T, float>::value ? 2e-6 : 1e-12;
    return base * std::max(1.0, std::fabs(expected));
  }
  static void expectTensor(const Shape &shape, const std::vector<double> &exp,
                           const Tensor<T> &actual) {
    ASSERT_EQ(shape, actual.shape);
    ASSERT_EQ(int64_t(exp.size()), actual.numel());
    for (size_t i = 0; i < exp.size(); ++i)
      EXPECT_NEAR(exp[i], double(actual[int64_t(i)]), tol(exp[i]))
          << "element " << i;
  }
  /// `actual` (computed in T) against a double reference, relative to its
  /// largest element (float: 1e-5, double: 1e-12).
  static void expectClose(const Tensor<double> &ref, const Tensor<T> &actual,
                          const char *what) {
    ASSERT_EQ(ref.shape, actual.shape) << what;
    const double base = std::is_same<T, float>::value ? 1e-5 : 1e-12;
    const double scale = std::max(1.0, maxAbs(ref));
    for (int64_t i = 0; i < ref.numel(); ++i)
      EXPECT_NEAR(ref[i], double(actual[i]), base * scale)
          << what << " element " << i;
  }
  static Tensor<T> make(Shape shape, const std::vector<double> &v) {
    return Tensor<T>(std::move(shape), std::vector<T>(v.begin(), v.end()));
  }
  static Tensor<T> to(const Tensor<double> &t) { return t.cast<T>(); }
};

using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RefGradTest, FloatTypes);

//===----------------------------------------------------------------------===//
// conv2d: finite differences and adjoint identities
//===----------------------------------------------------------------------===//

struct ConvCase {
  int64_t N, C, O, H, W, KH, KW, stride, pad;
};

// Non-square kernels throughout; with stride 2, (H+2p-KH) and (W+2p-KW) are
// odd in every case below, so the trailing input rows/cols are not covered.
const ConvCase kConvCases[] = {
    {2, 2, 3, 5, 6, 2, 3, 1, 0}, // 4x4 output
    {2, 2, 3, 5, 6, 2, 3, 1, 1}, // 6x6 output
    {1, 3, 2, 6, 7, 3, 2, 2, 0}, // (6-3)=3, (7-2)=5 odd -> 2x3 output
    {2, 2, 2, 6, 7, 3, 2, 2, 1}, // (6+2-3)=5, (7+2-2)=7 odd -> 3x4 output
    {1, 1, 2, 4, 4, 1, 3, 2, 1}, // 1x3 kernel, (4+2-1)=5, (4+2-3)=3 -> 3x2
};

int64_t convOut(int64_t in, int64_t k, int64_t s, int64_t p) {
  return (in + 2 * p - k) / s + 1;
}

TEST(RefGradFiniteDiff, Conv2dBackwardDataAndFilter) {
  Rand rng(101);
  for (const ConvCase &cc : kConvCases) {
    SCOPED_TRACE(
        "conv H=" + std::to_string(cc.H) + " W=" + std::to_string(cc.W) +
        " K=" + std::to_string(cc.KH) + "x" + std::to_string(cc.KW) +
        " s=" + std::to_string(cc.stride) + " p=" + std::to_string(cc.pad));
    const int64_t OH = convOut(cc.H, cc.KH, cc.stride, cc.pad);
    const int64_t OW = convOut(cc.W, cc.KW, cc.stride, cc.pad);
    auto x = rng.tensor({cc.N, cc.C, cc.H, cc.W});
    auto w = rng.tensor({cc.O, cc.C, cc.KH, cc.KW});
    auto b = rng.tensor({cc.O});
    auto G = rng.tensor({cc.N, cc.O, OH, OW});
    ASSERT_EQ(G.shape, ref::conv2d(x, w, b, cc.stride, cc.pad).shape);

    auto dx = ref::conv2dBackwardData(G, w, cc.H, cc.W, cc.stride, cc.pad);
    auto numDx = numericGrad(x, G, [&](const Tensor<double> &xv) {
      return ref::conv2d(xv, w, b, cc.stride, cc.pad);
    });
    expectGradNear(numDx, dx, "conv2dBackwardData");

    auto dw = ref::conv2dBackwardFilter(x, G, cc.KH, cc.KW, cc.stride, cc.pad);
    auto numDw = numericGrad(w, G, [&](const Tensor<double> &wv) {
      return ref::conv2d(x, wv, b, cc.stride, cc.pad);
    });
    expectGradNear(numDw, dw, "conv2dBackwardFilter");
  }
}

TEST(RefGradAdjoint, Conv2d) {
  // With zero bias conv2d is bilinear: <conv2d(x,w,0), dy> ==
  // <x, conv2dBackwardData(dy,w)> == <w, conv2dBackwardFilter(x,dy)>.
  Rand rng(102);
  for (const ConvCase &cc : kConvCases) {
    const int64_t OH = convOut(cc.H, cc.KH, cc.stride, cc.pad);
    const int64_t OW = convOut(cc.W, cc.KW, cc.stride, cc.pad);
    auto x = rng.tensor({cc.N, cc.C, cc.H, cc.W});
    auto w = rng.tensor({cc.O, cc.C, cc.KH, cc.KW});
    auto dy = rng.tensor({cc.N, cc.O, OH, OW});
    Tensor<double> zero({cc.O});
    const double lhs = dot(ref::conv2d(x, w, zero, cc.stride, cc.pad), dy);
    const double viaData =
        dot(x, ref::conv2dBackwardData(dy, w, cc.H, cc.W, cc.stride, cc.pad));
    const double viaFilter = dot(
        w, ref::conv2dBackwardFilter(x, dy, cc.KH, cc.KW, cc.stride, cc.pad));
    expectIdentity(lhs, viaData, "conv2d vs backward data");
    expectIdentity(lhs, viaFilter, "conv2d vs backward filter");
  }
}

TYPED_TEST(RefGradTest, Conv2dBackwardHandComputed) {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,4]], stride 1, pad 0 ->
  // 2x2 output; dy = [[1,0],[0,0]] selects output (0,0), whose window is
  // x[0..1][0..1]: dw = [[1,2],[4,5]], dx = w placed at (0,0):
  // [[1,2,0],[3,4,0],[0,0,0]].
  auto x = this->make({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto w = this->make({1, 1, 2, 2}, {1, 2, 3, 4});
  auto dy = this->make({1, 1, 2, 2}, {1, 0, 0, 0});
  this->expectTensor({1, 1, 2, 2}, {1, 2, 4, 5},
                     ref::conv2dBackwardFilter(x, dy, 2, 2, 1, 0));
  this->expectTensor({1, 1, 3, 3}, {1, 2, 0, 3, 4, 0, 0, 0, 0},
                     ref::conv2dBackwardData(dy, w, 3, 3, 1, 0));
  // All-ones dy, pad 1 (4x4 output over the padded 5x5): every x element is
  // hit by every kernel tap once -> dx = sum(w) = 10 everywhere; dw[ki][kj]
  // = sum of x over the taps' reach = sum(x) = 45 for every tap (each tap
  // visits each x element exactly once).
  auto ones = this->make({1, 1, 4, 4}, std::vector<double>(16, 1.0));
  this->expectTensor({1, 1, 3, 3}, std::vector<double>(9, 10.0),
                     ref::conv2dBackwardData(ones, w, 3, 3, 1, 1));
  this->expectTensor({1, 1, 2, 2}, {45, 45, 45, 45},
                     ref::conv2dBackwardFilter(x, ones, 2, 2, 1, 1));
  // Stride 2, no pad, 4x4 input, 2x2 kernel -> (4-2)/2+1 = 2 per side;
  // dy = [[2,0],[0,0]] -> dx = 2*w in the top-left 2x2, zero elsewhere.
  auto dy2 = this->make({1, 1, 2, 2}, {2, 0, 0, 0});
  this->expectTensor({1, 1, 4, 4},
                     {2, 4, 0, 0, 6, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                     ref::conv2dBackwardData(dy2, w, 4, 4, 2, 0));
}

TYPED_TEST(RefGradTest, Conv2dBackwardMatchesDouble) {
  Rand rng(103);
  const ConvCase cc = kConvCases[3];
  const int64_t OH = convOut(cc.H, cc.KH, cc.stride, cc.pad);
  const int64_t OW = convOut(cc.W, cc.KW, cc.stride, cc.pad);
  auto x = rng.tensor({cc.N, cc.C, cc.H, cc.W});
  auto w = rng.tensor({cc.O, cc.C, cc.KH, cc.KW});
  auto dy = rng.tensor({cc.N, cc.O, OH, OW});
  this->expectClose(
      ref::conv2dBackwardData(dy, w, cc.H, cc.W, cc.stride, cc.pad),
      ref::conv2dBackwardData(this->to(dy), this->to(w), cc.H, cc.W, cc.stride,
                              cc.pad),
      "conv2dBackwardData");
  this->expectClose(
      ref::conv2dBackwardFilter(x, dy, cc.KH, cc.KW, cc.stride, cc.pad),
      ref::conv2dBackwardFilter(this->to(x), this->to(dy), cc.KH, cc.KW,
                                cc.stride, cc.pad),
      "conv2dBackwardFilter");
}

//===----------------------------------------------------------------------===//
// maxpool
//===----------------------------------------------------------------------===//

struct PoolCase {
  int64_t N, C, H, W, k, s;
};
const PoolCase kPoolCases[] = {
    {2, 2, 4, 4, 2, 2}, // tiling windows
    {1, 2, 5, 6, 3, 1}, // overlapping windows (accumulate)
    {2, 1, 5, 5, 2, 2}, // last row/col dropped
    {1, 1, 7, 6, 3, 2}, // overlapping, stride 2, dropped col
};

TEST(RefGradFiniteDiff, MaxpoolBackward) {
  // Distinct values >= 0.08 apart, step 1e-6: no window's argmax can move.
  Rand rng(201);
  for (const PoolCase &pc : kPoolCases) {
    SCOPED_TRACE("pool k=" + std::to_string(pc.k) +
                 " s=" + std::to_string(pc.s));
    auto x = rng.distinct({pc.N, pc.C, pc.H, pc.W});
    const int64_t OH = (pc.H - pc.k) / pc.s + 1, OW = (pc.W - pc.k) / pc.s + 1;
    auto G = rng.tensor({pc.N, pc.C, OH, OW});
    auto numeric = numericGrad(x, G, [&](const Tensor<double> &xv) {
      return ref::maxpool2d(xv, pc.k, pc.s);
    });
    expectGradNear(numeric, ref::maxpoolBackward(x, G, pc.k, pc.s),
                   "maxpoolBackward");
  }
}

TEST(RefGradAdjoint, MaxpoolGatherIsTransposeOfBackward) {
  // <maxpoolBackward(x, dy), g> == <dy, maxpoolGather(x, g)>, also with ties
  // (x quantised to a few values), since both pick the same element.
  Rand rng(202);
  for (const PoolCase &pc : kPoolCases)
    for (int ties = 0; ties < 2; ++ties) {
      auto x = rng.tensor({pc.N, pc.C, pc.H, pc.W});
      if (ties)
        for (double &v : x.data)
          v = std::floor(v * 2); // values in {-2,-1,0,1}: many ties
      const int64_t OH = (pc.H - pc.k) / pc.s + 1;
      const int64_t OW = (pc.W - pc.k) / pc.s + 1;
      auto dy = rng.tensor({pc.N, pc.C, OH, OW});
      auto g = rng.tensor({pc.N, pc.C, pc.H, pc.W});
      expectIdentity(dot(ref::maxpoolBackward(x, dy, pc.k, pc.s), g),
                     dot(dy, ref::maxpoolGather(x, g, pc.k, pc.s)),
                     "maxpool adjoint");
      // maxpoolGather(x, x) == maxpool2d(x), exactly.
      auto gathered = ref::maxpoolGather(x, x, pc.k, pc.s);
      auto pooled = ref::maxpool2d(x, pc.k, pc.s);
      ASSERT_EQ(pooled.shape, gathered.shape);
      for (int64_t i = 0; i < pooled.numel(); ++i)
        EXPECT_EQ(pooled[i], gathered[i]) << "element " << i;
    }
}

TYPED_TEST(RefGradTest, MaxpoolTiesPickFirstMaximum) {
  // One 2x2 window [[3,3],[3,1]] (ties): the first row-major maximum (0,0)
  // gets all of dy = 5; maxpoolGather reads g there.
  auto x = this->make({1, 1, 2, 2}, {3, 3, 3, 1});
  auto dy = this->make({1, 1, 1, 1}, {5});
  this->expectTensor({1, 1, 2, 2}, {5, 0, 0, 0},
                     ref::maxpoolBackward(x, dy, 2, 2));
  auto g = this->make({1, 1, 2, 2}, {7, 8, 9, 10});
  this->expectTensor({1, 1, 1, 1}, {7}, ref::maxpoolGather(x, g, 2, 2));
  // Overlapping windows accumulate: 3x3 image with its maximum 9 in the
  // centre, k2 s1: all four windows pick the centre, dy = [1,2,3,4] -> the
  // centre gets 1+2+3+4 = 10.
  auto x3 = this->make({1, 1, 3, 3}, {1, 2, 3, 4, 9, 5, 6, 7, 8});
  auto dy3 = this->make({1, 1, 2, 2}, {1, 2, 3, 4});
  this->expectTensor({1, 1, 3, 3}, {0, 0, 0, 0, 10, 0, 0, 0, 0},
                     ref::maxpoolBackward(x3, dy3, 2, 1));
  // Dropped trailing row/col (3x3, k2 s2 -> 1x1 window over x[0..1][0..1],
  // max 9 at (1,1)).
  auto dy1 = this->make({1, 1, 1, 1}, {-2});
  this->expectTensor({1, 1, 3, 3}, {0, 0, 0, 0, -2, 0, 0, 0, 0},
                     ref::maxpoolBackward(x3, dy1, 2, 2));
}

//===----------------------------------------------------------------------===//
// preprocess
//===----------------------------------------------------------------------===//

TEST(RefGradFiniteDiff, PreprocessGradBothBranches) {
  // p = 10 -> threshold t = exp(-10) ~ 4.54e-5. Points: magnitudes from
  // 1e-8*t to 1e4*t on both sides of t, of both signs, and 0 (small branch);
  // none within 1e-3 relative of t. Step per element: 1e-4 * (distance to the
  // nearer of 0 and the boundary), so x +- h stays in its branch and the
  // curvature error of log is ~1e-8 relative.
  const double p = 10, t = std::exp(-p);
  Rand rng(301);
  std::vector<double> vals = {0.0};
  const double factors[] = {1e-8, 0.01, 0.3, 0.9, 0.99, 1.01, 1.1, 3, 100, 1e4};
  for (double f : factors) {
    const double mag = t * f * rng.uniform(0.9995, 1.0005);
    vals.push_back(mag);
    vals.push_back(-mag);
  }
  vals.push_back(0.7);
  vals.push_back(-2.5);
  for (double v : vals) {
    if (v != 0) {
      ASSERT_GT(std::fabs(std::fabs(v) - t), 1e-3 * t) << v;
    }
  }
  const int64_t n = int64_t(vals.size()); // 23: a [23] tensor
  Tensor<double> x({n}, vals);
  auto G = rng.tensor({2 * n});
  auto step = [&](int64_t k) {
    const double a = std::fabs(x[k]);
    const double d = a == 0 ? t : std::min(a, std::fabs(a - t));
    return 1e-4 * d;
  };
  auto numeric = numericGrad(
      x, G, [&](const Tensor<double> &xv) { return ref::preprocess(xv, p); },
      step);
  auto analytic = ref::preprocessGrad(x, G, p);
  ASSERT_EQ(x.shape, analytic.shape);
  // Per-element relative check (the magnitudes differ by ~1e12 between
  // branches, so the tensor-wide relative error alone would hide the large
  // branch's small derivatives).
  for (int64_t k = 0; k < n; ++k)
    EXPECT_NEAR(numeric[k], analytic[k], 1e-6 * std::fabs(analytic[k]))
        << "x = " << x[k];
  // A rank-2 x [2,3] mixing both branches (t ~ 4.54e-5): large 0.5, -4,
  // 1e-3; small -1e-6, 2e-5, -3e-5. dx keeps x's shape.
  Tensor<double> x2({2, 3}, {0.5, -1e-6, 2e-5, -4.0, 1e-3, -3e-5});
  auto G2 = rng.tensor({12});
  auto numeric2 = numericGrad(
      x2, G2, [&](const Tensor<double> &xv) { return ref::preprocess(xv, p); },
      [&](int64_t k) {
        const double a = std::fabs(x2[k]);
        return 1e-4 * std::min(a, std::fabs(a - t));
      });
  auto analytic2 = ref::preprocessGrad(x2, G2, p);
  ASSERT_EQ(x2.shape, analytic2.shape);
  for (int64_t k = 0; k < 6; ++k)
    EXPECT_NEAR(numeric2[k], analytic2[k], 1e-6 * std::fabs(analytic2[k]))
        << "x = " << x2[k];
}

TYPED_TEST(RefGradTest, PreprocessGradHandComputed) {
  using T = TypeParam;
  // p = 10: x = 0.5 (large): dx = g0/(10*0.5) = 3/5 = 0.6 (g1 ignored);
  // x = -2 (large): dx = g0/(10*-2) = 4/-20 = -0.2;
  // x = 1e-5 (small): dx = g1*e^10 = 2*22026.465794806718;
  // x = 0 (small): dx = g1*e^10 = -1*22026.465794806718.
  auto x = this->make({4}, {0.5, -2, 1e-5, 0});
  auto g = this->make({8}, {3, 100, 4, 100, 100, 2, 100, -1});
  this->expectTensor({4}, {0.6, -0.2, 44052.931589613436, -22026.465794806718},
                     ref::preprocessGrad(x, g, T(10)));
  // Rank-0 x keeps rank 0: x = 1 (large), dx = g0/(10*1) = 0.7.
  this->expectTensor(
      {}, {0.7},
      ref::preprocessGrad(ref::scalar(T(1)), this->make({2}, {7, 9}), T(10)));
}

//===----------------------------------------------------------------------===//
// lstmCell
//===----------------------------------------------------------------------===//

/// Finite-difference check of every output of lstmCellGrad for x of the given
/// shape (rank 1 [I], or rank 0 = one input, passed to lstmCell as [1]).
void checkLstmGrad(const Shape &xShape, int64_t H, uint64_t seed) {
  Rand rng(seed);
  auto x = rng.tensor(xShape, -2, 2);
  const int64_t I = x.numel();
  auto h = rng.tensor({H});
  auto c = rng.tensor({H}, -2, 2);
  auto w = rng.tensor({4 * H, I + H});
  auto b = rng.tensor({4 * H});
  auto dhNext = rng.tensor({H});
  auto dcNext = rng.tensor({H});
  // G over the concatenated outputs (h', c').
  Tensor<double> G({2 * H});
  for (int64_t k = 0; k < H; ++k) {
    G[k] = dhNext[k];
    G[H + k] = dcNext[k];
  }
  auto cell = [&](const Tensor<double> &xv, const Tensor<double> &hv,
                  const Tensor<double> &cv, const Tensor<double> &wv,
                  const Tensor<double> &bv) {
    Tensor<double> x1({I}, xv.data); // lstmCell takes x as [I]
    auto hc = ref::lstmCell(x1, hv, cv, wv, bv);
    Tensor<double> out({2 * H});
    for (int64_t k = 0; k < H; ++k) {
      out[k] = hc.first[k];
      out[H + k] = hc.second[k];
    }
    return out;
  };
  auto grads = ref::lstmCellGrad(x, h, c, w, b, dhNext, dcNext);
  EXPECT_EQ(x.shape, grads.dx.shape);
  expectGradNear(
      numericGrad(x, G,
                  [&](const Tensor<double> &v) { return cell(v, h, c, w, b); }),
      grads.dx, "lstm dx");
  expectGradNear(
      numericGrad(h, G,
                  [&](const Tensor<double> &v) { return cell(x, v, c, w, b); }),
      grads.dh, "lstm dh");
  expectGradNear(
      numericGrad(c, G,
                  [&](const Tensor<double> &v) { return cell(x, h, v, w, b); }),
      grads.dc, "lstm dc");
  expectGradNear(
      numericGrad(w, G,
                  [&](const Tensor<double> &v) { return cell(x, h, c, v, b); }),
      grads.dw, "lstm dw");
  expectGradNear(
      numericGrad(b, G,
                  [&](const Tensor<double> &v) { return cell(x, h, c, w, v); }),
      grads.db, "lstm db");
}

TEST(RefGradFiniteDiff, LstmCellGradRank1Input) {
  checkLstmGrad({3}, 4, 401);
  checkLstmGrad({1}, 1, 402);
}

TEST(RefGradFiniteDiff, LstmCellGradRank0Input) {
  checkLstmGrad({}, 3, 403);
  checkLstmGrad({}, 1, 404);
}

TYPED_TEST(RefGradTest, LstmCellGradZeroWeights) {
  // All pre-activations 0 -> i = f = o = 0.5, g = 0; c = [2], H = 1, I = 1:
  // c' = 1, t = tanh(1) = 0.7615941559557649, 1-t^2 = 0.41997434161402614.
  // dhNext = 1, dcNext = 0: dc'' = 0.5*0.41997434161402614 =
  // 0.20998717080701307; da_i = dc''*g*... = 0; da_f = dc''*c*0.25 =
  // 0.10499358540350653; da_o = t*0.25 = 0.19039853898894122; da_g =
  // dc''*0.5*1 = 0.10499358540350653; dc = dc''*f = 0.10499358540350653.
  // w = 0 -> dx = dh = 0; dw = da * z with z = (x, h) = (3, -1).
  auto x = this->make({1}, {3});
  auto h = this->make({1}, {-1});
  auto c = this->make({1}, {2});
  auto w = this->make({4, 2}, std::vector<double>(8, 0.0));
  auto b = this->make({4}, {0, 0, 0, 0});
  auto gr = ref::lstmCellGrad(x, h, c, w, b, this->make({1}, {1}),
                              this->make({1}, {0}));
  const double daf = 0.10499358540350653, dao = 0.19039853898894122;
  this->expectTensor({4}, {0, daf, dao, daf}, gr.db);
  this->expectTensor({1}, {daf}, gr.dc);
  this->expectTensor({1}, {0}, gr.dx);
  this->expectTensor({1}, {0}, gr.dh);
  this->expectTensor(
      {4, 2}, {0, 0, 3 * daf, -daf, 3 * dao, -dao, 3 * daf, -daf}, gr.dw);
}

TYPED_TEST(RefGradTest, LstmCellGradMatchesDouble) {
  for (const Shape &xs : {Shape{3}, Shape{}}) {
    Rand rng(405);
    const int64_t H = 2;
    auto x = rng.tensor(xs);
    const int64_t I = x.numel();
    auto h = rng.tensor({H}), c = rng.tensor({H});
    auto w = rng.tensor({4 * H, I + H}), b = rng.tensor({4 * H});
    auto dh = rng.tensor({H}), dc = rng.tensor({H});
    auto r = ref::lstmCellGrad(x, h, c, w, b, dh, dc);
    auto t =
        ref::lstmCellGrad(this->to(x), this->to(h), this->to(c), this->to(w),
                          this->to(b), this->to(dh), this->to(dc));
    this->expectClose(r.dx, t.dx, "dx");
    this->expectClose(r.dh, t.dh, "dh");
    this->expectClose(r.dc, t.dc, "dc");
    this->expectClose(r.dw, t.dw, "dw");
    this->expectClose(r.db, t.db, "db");
  }
}

//===----------------------------------------------------------------------===//
// affine
//===----------------------------------------------------------------------===//

TEST(RefGradFiniteDiff, AffineGradVectorForm) {
  Rand rng(501);
  auto x = rng.tensor({4});
  auto w = rng.tensor({3, 4});
  auto b = rng.tensor({3});
  auto G = rng.tensor({3});
  auto gr = ref::affineGrad(x, w, G);
  expectGradNear(
      numericGrad(
          x, G, [&](const Tensor<double> &v) { return ref::affine(v, w, b); }),
      gr.dx, "affine dx");
  expectGradNear(
      numericGrad(
          w, G, [&](const Tensor<double> &v) { return ref::affine(x, v, b); }),
      gr.dw, "affine dw");
  expectGradNear(
      numericGrad(
          b, G, [&](const Tensor<double> &v) { return ref::affine(x, w, v); }),
      gr.db, "affine db");
}

TEST(RefGradFiniteDiff, AffineGradScalarForm) {
  Rand rng(502);
  auto x = rng.tensor({5});
  auto w = rng.tensor({5});
  auto b = ref::scalar(rng.uniform(-1, 1));
  auto G = ref::scalar(rng.uniform(0.5, 1.5));
  auto gr = ref::affineGrad(x, w, G);
  EXPECT_EQ(Shape{}, gr.db.shape);
  expectGradNear(
      numericGrad(
          x, G, [&](const Tensor<double> &v) { return ref::affine(v, w, b); }),
      gr.dx, "affine dx");
  expectGradNear(
      numericGrad(
          w, G, [&](const Tensor<double> &v) { return ref::affine(x, v, b); }),
      gr.dw, "affine dw");
  expectGradNear(
      numericGrad(
          b, G, [&](const Tensor<double> &v) { return ref::affine(x, w, v); }),
      gr.db, "affine db");
}

TYPED_TEST(RefGradTest, AffineGradHandComputed) {
  using T = TypeParam;
  // Vector: x = [1,2], w = [[1,1],[2,-1],[0,3]], g = [1,-1,2]:
  //  dx = w^T g = [1-2+0, 1+1+6] = [-1, 8]; dw = g x^T; db = g.
  auto x = this->make({2}, {1, 2});
  auto w = this->make({3, 2}, {1, 1, 2, -1, 0, 3});
  auto g = this->make({3}, {1, -1, 2});
  auto gr = ref::affineGrad(x, w, g);
  this->expectTensor({2}, {-1, 8}, gr.dx);
  this->expectTensor({3, 2}, {1, 2, -1, -2, 2, 4}, gr.dw);
  this->expectTensor({3}, {1, -1, 2}, gr.db);
  // Scalar: w = [3,-1], g = 2 (rank 0): dx = 2w = [6,-2], dw = 2x = [2,4],
  // db = 2 (rank 0).
  auto gs = ref::affineGrad(x, this->make({2}, {3, -1}), ref::scalar(T(2)));
  this->expectTensor({2}, {6, -2}, gs.dx);
  this->expectTensor({2}, {2, 4}, gs.dw);
  this->expectTensor({}, {2}, gs.db);
}

//===----------------------------------------------------------------------===//
// reduceSum / broadcastInDim
//===----------------------------------------------------------------------===//

TYPED_TEST(RefGradTest, ReduceSum) {
  // x [2,3] = [[1,2,3],[4,5,6]].
  auto x = this->make({2, 3}, {1, 2, 3, 4, 5, 6});
  this->expectTensor({3}, {5, 7, 9}, ref::reduceSum(x, {0})); // col sums
  this->expectTensor({2}, {6, 15}, ref::reduceSum(x, {1}));   // row sums
  this->expectTensor({}, {21}, ref::reduceSum(x, {0, 1}));    // all -> rank 0
  this->expectTensor({2, 3}, {1, 2, 3, 4, 5, 6}, ref::reduceSum(x, {})); // id
  // y [2,3,2] = 0..11 row-major, y[a,b,c] = 6a+2b+c. Over {0,2}:
  // r[b] = sum_{a,c} y[a,b,c]: b=0: 0+1+6+7 = 14; b=1: 2+3+8+9 = 22;
  // b=2: 4+5+10+11 = 30.
  std::vector<double> v;
  for (int i = 0; i < 12; ++i)
    v.push_back(i);
  auto y = this->make({2, 3, 2}, v);
  this->expectTensor({3}, {14, 22, 30}, ref::reduceSum(y, {0, 2}));
  // Over {1}: r[a,c] = sum_b: a=0: c=0 0+2+4 = 6, c=1 1+3+5 = 9;
  // a=1: 6+8+10 = 24, 7+9+11 = 27.
  this->expectTensor({2, 2}, {6, 9, 24, 27}, ref::reduceSum(y, {1}));
  this->expectTensor({}, {66}, ref::reduceSum(y, {0, 1, 2}));
  // Rank-0 input with no dims: itself.
  this->expectTensor({}, {-3}, ref::reduceSum(ref::scalar(TypeParam(-3)), {}));
}

TYPED_TEST(RefGradTest, BroadcastInDim) {
  using T = TypeParam;
  // [3] -> [2,3] along dim 1: rows repeat.
  auto r = this->make({3}, {1, 2, 3});
  this->expectTensor({2, 3}, {1, 2, 3, 1, 2, 3},
                     ref::broadcastInDim(r, {2, 3}, {1}));
  // [2] -> [2,3] along dim 0: columns repeat.
  auto c = this->make({2}, {7, 8});
  this->expectTensor({2, 3}, {7, 7, 7, 8, 8, 8},
                     ref::broadcastInDim(c, {2, 3}, {0}));
  // Rank 0 -> [2,2]: fill.
  this->expectTensor({2, 2}, {5, 5, 5, 5},
                     ref::broadcastInDim(ref::scalar(T(5)), {2, 2}, {}));
  // [2,2] -> [2,3,2] along dims {0,2}: result[a,b,c] = x[a,c].
  auto m = this->make({2, 2}, {1, 2, 3, 4});
  this->expectTensor({2, 3, 2}, {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4},
                     ref::broadcastInDim(m, {2, 3, 2}, {0, 2}));
  // Identity mapping.
  this->expectTensor({2, 2}, {1, 2, 3, 4},
                     ref::broadcastInDim(m, {2, 2}, {0, 1}));
}

TEST(RefGradAdjoint, ReduceSumAndBroadcastInDim) {
  // <reduceSum(x, dims), y> == <x, broadcastInDim(y, x.shape, complement)>
  // for every subset of dims of a rank-3 and a rank-4 tensor.
  Rand rng(601);
  for (const Shape &shape : {Shape{2, 3, 4}, Shape{3, 1, 2, 5}}) {
    const int64_t R = int64_t(shape.size());
    for (int64_t mask = 0; mask < (int64_t(1) << R); ++mask) {
      std::vector<int64_t> dims, keep;
      Shape kept;
      for (int64_t d = 0; d < R; ++d)
        if (mask & (int64_t(1) << d)) {
          dims.push_back(d);
        } else {
          keep.push_back(d);
          kept.push_back(shape[d]);
        }
      auto x = rng.tensor(shape);
      auto y = rng.tensor(kept);
      auto reduced = ref::reduceSum(x, dims);
      ASSERT_EQ(kept, reduced.shape);
      expectIdentity(dot(reduced, y),
                     dot(x, ref::broadcastInDim(y, shape, keep)),
                     "reduceSum / broadcastInDim");
    }
  }
}

//===----------------------------------------------------------------------===//
// slice / unslice
//===----------------------------------------------------------------------===//

TYPED_TEST(RefGradTest, SliceAndUnslice) {
  using T = TypeParam;
  // x [3,4] = 0..11 row-major; slice rows 1..2, cols 1..3 ->
  // [[5,6,7],[9,10,11]].
  std::vector<double> v;
  for (int i = 0; i < 12; ++i)
    v.push_back(i);
  auto x = this->make({3, 4}, v);
  this->expectTensor({2, 3}, {5, 6, 7, 9, 10, 11},
                     ref::slice(x, {1, 1}, {2, 3}));
  // Empty slice and whole-tensor slice.
  this->expectTensor({0, 4}, {}, ref::slice(x, {3, 0}, {0, 4}));
  this->expectTensor({3, 4}, v, ref::slice(x, {0, 0}, {3, 4}));
  // unslice puts [[1,2],[3,4]] at (1,2) of a [3,4] zero tensor.
  auto g = this->make({2, 2}, {1, 2, 3, 4});
  this->expectTensor({3, 4}, {0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4},
                     ref::unslice(g, {1, 2}, {3, 4}));
  // Rank 1 and rank 0.
  this->expectTensor({2}, {2, 3},
                     ref::slice(this->make({4}, {1, 2, 3, 4}), {1}, {2}));
  this->expectTensor({}, {9}, ref::slice(ref::scalar(T(9)), {}, {}));
  this->expectTensor({}, {9}, ref::unslice(ref::scalar(T(9)), {}, {}));
}

TEST(RefGradAdjoint, SliceAndUnslice) {
  // <slice(x, off, sz), g> == <x, unslice(g, off, x.shape)>.
  Rand rng(701);
  struct Case {
    Shape shape;
    std::vector<int64_t> off;
    Shape sizes;
  };
  const Case cases[] = {
      {{5}, {2}, {3}},
      {{4, 6}, {1, 2}, {3, 3}},
      {{3, 4, 5}, {0, 1, 2}, {3, 2, 2}},
      {{2, 3, 4, 5}, {1, 0, 3, 1}, {1, 3, 1, 4}},
  };
  for (const Case &cs : cases) {
    auto x = rng.tensor(cs.shape);
    auto g = rng.tensor(cs.sizes);
    expectIdentity(dot(ref::slice(x, cs.off, cs.sizes), g),
                   dot(x, ref::unslice(g, cs.off, cs.shape)),
                   "slice / unslice");
  }
}

//===----------------------------------------------------------------------===//
// matmul / logsumexp / oneHot / step
//===----------------------------------------------------------------------===//

TYPED_TEST(RefGradTest, MatmulAllTransposes) {
  // A = [[1,2,3],[4,5,6]] (2x3), B = [[1,0],[-1,2],[0.5,1]] (3x2):
  // A B = [[1-2+1.5, 0+4+3], [4-5+3, 0+10+6]] = [[0.5, 7], [2, 16]].
  auto A = this->make({2, 3}, {1, 2, 3, 4, 5, 6});
  auto B = this->make({3, 2}, {1, 0, -1, 2, 0.5, 1});
  auto At = this->make({3, 2}, {1, 4, 2, 5, 3, 6});    // A^T stored
  auto Bt = this->make({2, 3}, {1, -1, 0.5, 0, 2, 1}); // B^T stored
  const std::vector<double> AB = {0.5, 7, 2, 16};
  this->expectTensor({2, 2}, AB, ref::matmul(A, B, false, false));
  this->expectTensor({2, 2}, AB, ref::matmul(At, B, true, false));
  this->expectTensor({2, 2}, AB, ref::matmul(A, Bt, false, true));
  this->expectTensor({2, 2}, AB, ref::matmul(At, Bt, true, true));
  // Non-square results with the same stored operands: A^T A (3x3, transpose
  // A with itself): [[17,22,27],[22,29,36],[27,36,45]]; A A^T (2x2) =
  // [[14,32],[32,77]].
  this->expectTensor({3, 3}, {17, 22, 27, 22, 29, 36, 27, 36, 45},
                     ref::matmul(A, A, true, false));
  this->expectTensor({2, 2}, {14, 32, 32, 77}, ref::matmul(A, A, false, true));
  // B B^T (3x3, B [3x2] with itself transposed) = [[1,-1,0.5],[-1,5,1.5],
  // [0.5,1.5,1.25]].
  this->expectTensor({3, 3}, {1, -1, 0.5, -1, 5, 1.5, 0.5, 1.5, 1.25},
                     ref::matmul(B, B, false, true));
}

TYPED_TEST(RefGradTest, Logsumexp) {
  // Row [1,2,3]: 3 + log(1 + e^-1 + e^-2) = 3.40760596444438.
  // Row [0,0,0]: log 3 = 1.0986122886681098.
  // Row [1000, 0, 1000]: 1000 + log 2 (finite, naive form overflows).
  // Row [-1000,-1000,-1000]: -1000 + log 3 (naive form gives log 0 = -inf).
  auto x = this->make({4, 3},
                      {1, 2, 3, 0, 0, 0, 1000, 0, 1000, -1000, -1000, -1000});
  auto y = ref::logsumexp(x);
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_TRUE(std::isfinite(y[i])) << i;
  this->expectTensor({4},
                     {3.4076059644443806, 1.0986122886681098,
                      1000.6931471805599453, -998.9013877113318902},
                     y);
  // One column: logsumexp = the value itself.
  this->expectTensor({2}, {-4, 2.5},
                     ref::logsumexp(this->make({2, 1}, {-4, 2.5})));
}

TYPED_TEST(RefGradTest, OneHotAndStep) {
  using T = TypeParam;
  Tensor<int32_t> labels({3}, std::vector<int32_t>{2, 0, 2});
  this->expectTensor({3, 4}, {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0},
                     ref::oneHot<T>(labels, 4));
  // step: 1 where x > 0; step(0) = step(-0) = 0; tiny positive -> 1.
  this->expectTensor(
      {2, 3}, {0, 0, 1, 0, 1, 0},
      ref::step(this->make({2, 3}, {-2, 0, 3, -0.0, 1e-30, -1e-30})));
  this->expectTensor({}, {1}, ref::step(ref::scalar(T(0.5))));
  // step is relu's derivative: d/dx relu(x) at x != 0 via FD of the same
  // reference (exact for piecewise-linear relu away from 0).
  auto x = this->make({4}, {-1.5, -0.25, 0.25, 2});
  auto s = ref::step(x);
  for (int64_t i = 0; i < 4; ++i) {
    const T h = T(1) / T(64);
    const T fd = (ref::relu(ref::scalar(T(x[i] + h)))[0] -
                  ref::relu(ref::scalar(T(x[i] - h)))[0]) /
                 (2 * h);
    EXPECT_EQ(s[i], fd) << i;
  }
}

} // namespace
