//===- RefOpsTest.cpp - hand-computed checks of the reference ops ---------===//
//
// Every expected number below is written out with a comment saying how it was
// obtained by hand (transcendental values to ~16 digits from the closed forms
// in the comments). Every test runs for both float and double.
//
//===----------------------------------------------------------------------===//
#include "interpreter/RefOps.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using namespace lopt;

namespace {

template <class T> class RefOpsTest : public ::testing::Test {
protected:
  /// Absolute tolerance scaled by max(1, |expected|).
  static double tol(double expected) {
    const double base = std::is_same<T, float>::value ? 2e-6 : 1e-12;
    return base * std::max(1.0, std::fabs(expected));
  }
  static void expectNear(double expected, T actual, const char *what = "") {
    EXPECT_NEAR(expected, double(actual), tol(expected)) << what;
  }
  static void expectTensor(const Shape &shape, const std::vector<double> &exp,
                           const Tensor<T> &actual) {
    ASSERT_EQ(shape, actual.shape);
    ASSERT_EQ(int64_t(exp.size()), actual.numel());
    for (size_t i = 0; i < exp.size(); ++i)
      EXPECT_NEAR(exp[i], double(actual[int64_t(i)]), tol(exp[i]))
          << "element " << i;
  }
  static Tensor<T> make(Shape shape, const std::vector<double> &v) {
    return Tensor<T>(std::move(shape), std::vector<T>(v.begin(), v.end()));
  }
};

using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RefOpsTest, FloatTypes);

//===----------------------------------------------------------------------===//
// conv2d
//===----------------------------------------------------------------------===//

TYPED_TEST(RefOpsTest, Conv2dPaddedSingleChannel) {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,4]], b = 0.5, stride 1, pad 1
  // -> output (3+2-2)/1+1 = 4 per side. With P the zero-padded 5x5 input,
  // y[i][j] = P[i][j]*1 + P[i][j+1]*2 + P[i+1][j]*3 + P[i+1][j+1]*4 + 0.5:
  //  row0: 1*4=4, 1*3+2*4=11, 2*3+3*4=18, 3*3=9
  //  row1: 1*2+4*4=18, 1+4+12+20=37, 2+6+15+24=47, 3+18=21
  //  row2: 4*2+7*4=36, 4+10+21+32=67, 5+12+24+36=77, 6+27=33
  //  row3: 7*2=14, 7+16=23, 8+18=26, 9
  auto x = this->make({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto w = this->make({1, 1, 2, 2}, {1, 2, 3, 4});
  auto b = this->make({1}, {0.5});
  this->expectTensor({1, 1, 4, 4},
                     {4.5, 11.5, 18.5, 9.5, 18.5, 37.5, 47.5, 21.5, 36.5, 67.5,
                      77.5, 33.5, 14.5, 23.5, 26.5, 9.5},
                     ref::conv2d(x, w, b, 1, 1));
  // Stride 2: (3+2-2)/2+1 = 2 per side; picks y[0][0], y[0][2], y[2][0],
  // y[2][2] of the stride-1 result above.
  this->expectTensor({1, 1, 2, 2}, {4.5, 18.5, 36.5, 77.5},
                     ref::conv2d(x, w, b, 2, 1));
  // No padding: (3-2)/1+1 = 2 per side = interior of the stride-1 result
  // (y[1..2][1..2]).
  this->expectTensor({1, 1, 2, 2}, {37.5, 47.5, 67.5, 77.5},
                     ref::conv2d(x, w, b, 1, 0));
}

TYPED_TEST(RefOpsTest, Conv2dChannelsAndBatch) {
  // 1x1 kernel, C=2 -> O=2, N=2. Batch 0: c0 = [1,2,3,4], c1 = [10,20,30,40];
  // batch 1 = 2 * batch 0. w = [[1, 0.5], [-1, 2]], b = [0, 1]:
  //  o0 = c0 + 0.5*c1     -> n0: [6,12,18,24],  n1: [12,24,36,48]
  //  o1 = -c0 + 2*c1 + 1  -> n0: [20,39,58,77], n1: [39,77,115,153]
  auto x = this->make({2, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40, 2, 4, 6, 8,
                                     20, 40, 60, 80});
  auto w = this->make({2, 2, 1, 1}, {1, 0.5, -1, 2});
  auto b = this->make({2}, {0, 1});
  this->expectTensor({2, 2, 2, 2},
                     {6, 12, 18, 24, 20, 39, 58, 77, 12, 24, 36, 48, 39, 77,
                      115, 153},
                     ref::conv2d(x, w, b, 1, 0));
}

//===----------------------------------------------------------------------===//
// batch norm
//===----------------------------------------------------------------------===//

TYPED_TEST(RefOpsTest, BatchnormTrainFourValues) {
  using T = TypeParam;
  // x [4,1] = [1,2,3,4]: mean 2.5, biased var = (2.25+0.25+0.25+2.25)/4 = 1.25.
  // eps = 0.75 -> sqrt(var+eps) = sqrt(2). gamma 2, beta 0.5:
  // y = 2*(x-2.5)/sqrt(2) + 0.5 = sqrt(2)*(x-2.5) + 0.5
  //   = [-1.5*sqrt2+0.5, -0.5*sqrt2+0.5, 0.5*sqrt2+0.5, 1.5*sqrt2+0.5].
  auto x = this->make({4, 1}, {1, 2, 3, 4});
  auto gamma = this->make({1}, {2});
  auto beta = this->make({1}, {0.5});
  auto runMean = this->make({1}, {0});
  auto runVar = this->make({1}, {1});
  auto y = ref::batchnormTrain(x, gamma, beta, T(0.75), T(0.9), runMean,
                               runVar);
  this->expectTensor({4, 1},
                     {-1.6213203435596424, -0.20710678118654746,
                      1.2071067811865475, 2.6213203435596424},
                     y);
  // momentum 0.9 weights the new statistic:
  // runMean = 0.1*0 + 0.9*2.5 = 2.25
  // unbiased var = 1.25*4/3 = 5/3; runVar = 0.1*1 + 0.9*5/3 = 0.1+1.5 = 1.6
  this->expectTensor({1}, {2.25}, runMean);
  this->expectTensor({1}, {1.6}, runVar);
}

TYPED_TEST(RefOpsTest, BatchnormTrainNCHW) {
  using T = TypeParam;
  // x [2,2,1,2] flat = n0c0 [1,2], n0c1 [2,2], n1c0 [3,4], n1c1 [6,6]; eps 0.
  // Channel 0 values {1,2,3,4}: mean 2.5, var 1.25, gamma 1, beta 0:
  //   y = (x-2.5)/sqrt(1.25) = (x-2.5)*2/sqrt(5) -> +-3/sqrt5, +-1/sqrt5.
  // Channel 1 values {2,2,6,6}: mean 4, var 4 (std 2), gamma 3, beta -1:
  //   y = 3*(x-4)/2 - 1 -> 2 -> -4, 6 -> 2.
  auto x = this->make({2, 2, 1, 2}, {1, 2, 2, 2, 3, 4, 6, 6});
  auto gamma = this->make({2}, {1, 3});
  auto beta = this->make({2}, {0, -1});
  auto runMean = this->make({2}, {0, 0});
  auto runVar = this->make({2}, {1, 1});
  auto y = ref::batchnormTrain(x, gamma, beta, T(0), T(0.1), runMean, runVar);
  this->expectTensor({2, 2, 1, 2},
                     {-1.3416407864998738, -0.4472135954999579, -4, -4,
                      0.4472135954999579, 1.3416407864998738, 2, 2},
                     y);
  // M = 4 per channel. runMean = 0.9*0 + 0.1*[2.5, 4] = [0.25, 0.4].
  // unbiased var = [1.25*4/3, 4*4/3] = [5/3, 16/3];
  // runVar = 0.9*1 + 0.1*[5/3, 16/3] = [0.9+1/6, 0.9+8/15].
  this->expectTensor({2}, {0.25, 0.4}, runMean);
  this->expectTensor({2}, {0.9 + 1.0 / 6.0, 0.9 + 8.0 / 15.0}, runVar);
}

TYPED_TEST(RefOpsTest, BatchnormTrainSingleElementPerChannel) {
  using T = TypeParam;
  // x [1,1] = [5]: M = 1, mean 5, var 0 (unbiased var falls back to var = 0).
  // eps 1 -> y = gamma*0/1 + beta = beta = 0.25.
  // momentum 0.5: runMean = 0.5*1 + 0.5*5 = 3; runVar = 0.5*2 + 0.5*0 = 1.
  auto x = this->make({1, 1}, {5});
  auto gamma = this->make({1}, {7});
  auto beta = this->make({1}, {0.25});
  auto runMean = this->make({1}, {1});
  auto runVar = this->make({1}, {2});
  auto y = ref::batchnormTrain(x, gamma, beta, T(1), T(0.5), runMean, runVar);
  this->expectTensor({1, 1}, {0.25}, y);
  this->expectTensor({1}, {3}, runMean);
  this->expectTensor({1}, {1}, runVar);
}

TYPED_TEST(RefOpsTest, BatchnormEval) {
  using T = TypeParam;
  // x [2,2] = [[1,2],[3,4]], runMean [1,2], runVar [3,8], eps 1
  //   -> sqrt(runVar+eps) = [2,3]; gamma [2,3], beta [0,1]:
  //   col0: 2*(x-1)/2 + 0 = x-1 -> [0, 2]
  //   col1: 3*(x-2)/3 + 1 = x-1 -> [1, 3]
  auto x = this->make({2, 2}, {1, 2, 3, 4});
  auto gamma = this->make({2}, {2, 3});
  auto beta = this->make({2}, {0, 1});
  auto runMean = this->make({2}, {1, 2});
  auto runVar = this->make({2}, {3, 8});
  this->expectTensor({2, 2}, {0, 1, 2, 3},
                     ref::batchnormEval(x, gamma, beta, T(1), runMean, runVar));
  // Running stats are inputs only.
  this->expectTensor({2}, {1, 2}, runMean);
  this->expectTensor({2}, {3, 8}, runVar);
}

//===----------------------------------------------------------------------===//
// relu / maxpool / flatten / linear
//===----------------------------------------------------------------------===//

TYPED_TEST(RefOpsTest, Relu) {
  auto x = this->make({2, 2}, {-1, 0, 2.5, -0.0001});
  this->expectTensor({2, 2}, {0, 0, 2.5, 0}, ref::relu(x));
}

TYPED_TEST(RefOpsTest, Maxpool) {
  // Channel 0 = [[1,5,2,0],[3,4,8,1],[-1,-2,6,7],[0,9,-3,-4]];
  // channel 1 = -(1..16) row-major (all negative: maxima must not be 0).
  std::vector<double> v = {1, 5, 2, 0, 3, 4, 8, 1, -1, -2, 6, 7, 0, 9, -3, -4};
  for (int i = 1; i <= 16; ++i)
    v.push_back(-i);
  auto x = this->make({1, 2, 4, 4}, v);
  // k2 s2: ch0 windows {1,5,3,4}=5 {2,0,8,1}=8 {-1,-2,0,9}=9 {6,7,-3,-4}=7;
  //        ch1 windows top-left elements -1, -3, -9, -11 are the maxima.
  this->expectTensor({1, 2, 2, 2}, {5, 8, 9, 7, -1, -3, -9, -11},
                     ref::maxpool2d(x, 2, 2));
  // k3 s1 (overlapping): ch0 rows0-2/cols0-2 -> 8, rows0-2/cols1-3 -> 8,
  // rows1-3/cols0-2 -> 9, rows1-3/cols1-3 -> 9; ch1 maxima are window
  // top-left elements -1, -2, -5, -6.
  this->expectTensor({1, 2, 2, 2}, {8, 8, 9, 9, -1, -2, -5, -6},
                     ref::maxpool2d(x, 3, 1));
  // 5x5 input (0..24 row-major), k2 s2: floor((5-2)/2)+1 = 2, the last
  // row/column is dropped; maxima are bottom-right of each window: 6, 8, 16,
  // 18.
  std::vector<double> w;
  for (int i = 0; i < 25; ++i)
    w.push_back(i);
  this->expectTensor({1, 1, 2, 2}, {6, 8, 16, 18},
                     ref::maxpool2d(this->make({1, 1, 5, 5}, w), 2, 2));
}

TYPED_TEST(RefOpsTest, Flatten) {
  std::vector<double> v;
  for (int i = 0; i < 12; ++i)
    v.push_back(i);
  // [2,2,1,3] -> [2,6], same row-major data.
  this->expectTensor({2, 6}, v, ref::flatten(this->make({2, 2, 1, 3}, v)));
}

TYPED_TEST(RefOpsTest, Linear) {
  // x = [[1,2,3],[4,5,6]], w = [[1,0,-1],[0.5,0.5,0.5]], b = [1,-1]:
  //  y[0] = [1-3+1, 0.5*6-1] = [-1, 2]; y[1] = [4-6+1, 0.5*15-1] = [-1, 6.5]
  auto x = this->make({2, 3}, {1, 2, 3, 4, 5, 6});
  auto w = this->make({2, 3}, {1, 0, -1, 0.5, 0.5, 0.5});
  auto b = this->make({2}, {1, -1});
  this->expectTensor({2, 2}, {-1, 2, -1, 6.5}, ref::linear(x, w, b));
}

//===----------------------------------------------------------------------===//
// loss / accuracy
//===----------------------------------------------------------------------===//

TYPED_TEST(RefOpsTest, CrossEntropyUniformIsLogC) {
  // All logits equal: softmax is 1/5 everywhere -> loss = log(5).
  auto logits = this->make({2, 5}, std::vector<double>(10, 3.0));
  Tensor<int32_t> labels({2}, std::vector<int32_t>{0, 4});
  this->expectNear(1.6094379124341003, ref::crossEntropy(logits, labels));
}

TYPED_TEST(RefOpsTest, CrossEntropyHandComputed) {
  // Row [1,2,3]: logsumexp = 3 + log(1 + e^-1 + e^-2) = 3 + 0.40760596444438.
  //  label 2 -> 0.40760596444438; label 0 -> 2.40760596444438.
  //  Mean of the two rows = 1.40760596444438.
  auto logits = this->make({2, 3}, {1, 2, 3, 1, 2, 3});
  Tensor<int32_t> labels({2}, std::vector<int32_t>{2, 0});
  this->expectNear(1.4076059644443806, ref::crossEntropy(logits, labels));
  // Stability: row [1000, 0]; logsumexp = 1000 + log(1+e^-1000) = 1000.
  //  label 0 -> 0, label 1 -> 1000; mean 500 (naive exp(1000) overflows).
  auto big = this->make({2, 2}, {1000, 0, 1000, 0});
  Tensor<int32_t> bigLabels({2}, std::vector<int32_t>{0, 1});
  this->expectNear(500, ref::crossEntropy(big, bigLabels));
}

TYPED_TEST(RefOpsTest, Accuracy) {
  // Rows: [1,3,3] argmax 1 (first of the tie) == 1 yes; [5,0,0] -> 0 == 0 yes;
  // [0,0,1] -> 2 != 0 no; [2,2,2] -> 0 (first) == 0 yes. 3/4 = 0.75.
  auto logits = this->make({4, 3}, {1, 3, 3, 5, 0, 0, 0, 0, 1, 2, 2, 2});
  Tensor<int32_t> labels({4}, std::vector<int32_t>{1, 0, 0, 0});
  this->expectNear(0.75, ref::accuracy(logits, labels));
  // Tie won by the later index does not count: [1,3,3] with label 2 -> 0.
  Tensor<int32_t> tie({1}, std::vector<int32_t>{2});
  this->expectNear(0, ref::accuracy(this->make({1, 3}, {1, 3, 3}), tie));
}

//===----------------------------------------------------------------------===//
// meta-learner ops
//===----------------------------------------------------------------------===//

TYPED_TEST(RefOpsTest, Preprocess) {
  using T = TypeParam;
  // p = 10, threshold exp(-10) = 4.54e-5.
  //  1e-5 (small):  (-1, e^10 * 1e-5 = 22026.465794806718e-5)
  //  0.5  (large):  (log(0.5)/10 = -0.0693147180559945, +1)
  //  -3   (large):  (log(3)/10 = 0.1098612288668110, -1)
  //  0    (small):  (-1, e^10 * 0 = 0)
  // Input [2,2] -> output [8], pairs interleaved.
  auto x = this->make({2, 2}, {1e-5, 0.5, -3, 0});
  this->expectTensor({8},
                     {-1, 0.2202646579480672, -0.06931471805599453, 1,
                      0.10986122886681098, -1, -1, 0},
                     ref::preprocess(x, T(10)));
  // Exactly at the threshold the large branch applies: (log(e^-p)/p, 1) =
  // (-1, 1); both branches agree there (small branch: e^p*e^-p = 1).
  Tensor<T> at({1}, std::exp(T(-10)));
  this->expectTensor({2}, {-1, 1}, ref::preprocess(at, T(10)));
  // Rank-0 input -> [2].
  this->expectTensor({2}, {0, -1}, ref::preprocess(ref::scalar(T(-1)), T(10)));
}

TYPED_TEST(RefOpsTest, LstmCellZeroWeights) {
  // All pre-activations 0 -> i = f = o = sig(0) = 0.5, g = tanh(0) = 0.
  // c' = 0.5*c, h' = 0.5*tanh(0.5*c). c = [2,-4]:
  //  c' = [1,-2], h' = [0.5*tanh(1), 0.5*tanh(-2)]
  //     = [0.5*0.76159415595576, 0.5*-0.96402758007582].
  auto x = this->make({3}, {0.3, -7, 2});
  auto h = this->make({2}, {0.9, -0.1});
  auto c = this->make({2}, {2, -4});
  auto w = this->make({8, 5}, std::vector<double>(40, 0.0));
  auto b = this->make({8}, std::vector<double>(8, 0.0));
  auto hc = ref::lstmCell(x, h, c, w, b);
  this->expectTensor({2}, {0.3807970779778824, -0.48201379003790845}, hc.first);
  this->expectTensor({2}, {1, -2}, hc.second);
}

TYPED_TEST(RefOpsTest, LstmCellHandComputed) {
  // I = 1, H = 1: x = [1], h = [0.5], c = [2]; rows of w multiply (x, h):
  //  input : w [1, 0],   b 0    -> a_i = 1
  //  forget: w [0, 2],   b 1    -> a_f = 2*0.5 + 1 = 2
  //  output: w [-1, 0],  b 0    -> a_o = -1
  //  cell  : w [0.5, 1], b -0.5 -> a_g = 0.5 + 0.5 - 0.5 = 0.5
  // i = sig(1) = 0.7310585786300049, f = sig(2) = 0.8807970779778823,
  // o = sig(-1) = 0.2689414213699951, g = tanh(0.5) = 0.46211715726000974
  // c' = f*2 + i*g = 1.7615941559557646 + 0.3378347121470411
  //    = 2.0994288681028057
  // h' = o*tanh(c') = 0.2689414213699951 * 0.9704168547... = 0.2609857751271527
  auto x = this->make({1}, {1});
  auto h = this->make({1}, {0.5});
  auto c = this->make({1}, {2});
  auto w = this->make({4, 2}, {1, 0, 0, 2, -1, 0, 0.5, 1});
  auto b = this->make({4}, {0, 1, 0, -0.5});
  auto hc = ref::lstmCell(x, h, c, w, b);
  this->expectTensor({1}, {0.26098577512715265}, hc.first);
  this->expectTensor({1}, {2.0994288681028057}, hc.second);
}

TYPED_TEST(RefOpsTest, LstmCellGateRowLayout) {
  // H = 2, zero weights, saturating biases to check which rows feed which
  // gate (sig(+100) = 1, sig(-100) ~ 0 to below float/double resolution):
  //  b = [i: 100, -100 | f: -100, 100 | o: 100, 100 | g: 1, 0]
  //  unit 0: i=1, f=0, o=1, g=tanh(1) -> c'0 = tanh(1) = 0.7615941559557649,
  //          h'0 = tanh(tanh(1)) = 0.6420149920119997
  //  unit 1: i=0, f=1, o=1 -> c'1 = c1 = -0.5, h'1 = tanh(-0.5)
  //          = -0.46211715726000974
  auto x = this->make({1}, {3});
  auto h = this->make({2}, {1, -1});
  auto c = this->make({2}, {5, -0.5});
  auto w = this->make({8, 3}, std::vector<double>(24, 0.0));
  auto b = this->make({8}, {100, -100, -100, 100, 100, 100, 1, 0});
  auto hc = ref::lstmCell(x, h, c, w, b);
  this->expectTensor({2}, {0.6420149920119997, -0.46211715726000974},
                     hc.first);
  this->expectTensor({2}, {0.7615941559557649, -0.5}, hc.second);
}

TYPED_TEST(RefOpsTest, Affine) {
  using T = TypeParam;
  // Vector: x = [1,2], w = [[1,1],[2,-1],[0,3]], b = [0.5,0,-1]
  //  -> [1+2+0.5, 2-2+0, 0+6-1] = [3.5, 0, 5].
  auto x = this->make({2}, {1, 2});
  auto w = this->make({3, 2}, {1, 1, 2, -1, 0, 3});
  auto b = this->make({3}, {0.5, 0, -1});
  this->expectTensor({3}, {3.5, 0, 5}, ref::affine(x, w, b));
  // Scalar: w = [3,-1], b = 2 (rank 0) -> 3*1 - 1*2 + 2 = 3, rank 0.
  auto ws = this->make({2}, {3, -1});
  this->expectTensor({}, {3}, ref::affine(x, ws, ref::scalar(T(2))));
}

TYPED_TEST(RefOpsTest, Concat) {
  using T = TypeParam;
  // 7 (rank 0) ++ [1,2] ++ -1 (rank 0) ++ [] (empty) ++ [4] -> [7,1,2,-1,4].
  auto a = ref::scalar(T(7));
  auto v = this->make({2}, {1, 2});
  auto s = ref::scalar(T(-1));
  Tensor<T> empty(Shape{0});
  auto last = this->make({1}, {4});
  this->expectTensor({5}, {7, 1, 2, -1, 4},
                     ref::concat<T>({&a, &v, &s, &empty, &last}));
}

//===----------------------------------------------------------------------===//
// elementwise
//===----------------------------------------------------------------------===//

TYPED_TEST(RefOpsTest, UnaryOps) {
  using T = TypeParam;
  // sigmoid(0) = 0.5; sigmoid(1) = 1/(1+e^-1) = 0.7310585786300049;
  // sigmoid(-1) = 1 - sigmoid(1) = 0.2689414213699951.
  this->expectTensor({3}, {0.5, 0.7310585786300049, 0.2689414213699951},
                     ref::sigmoid(this->make({3}, {0, 1, -1})));
  // Large |x| stays finite and saturates to 1 / 0 (naive forms give NaN).
  auto big = ref::sigmoid(this->make({4}, {100, -100, 1000, -1000}));
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_TRUE(std::isfinite(big[i])) << i;
  this->expectTensor({4}, {1, 0, 1, 0}, big);
  EXPECT_GE(big[1], T(0));
  // tanh(0.5) = 0.46211715726000974, tanh(0) = 0, tanh(-0.5) = -tanh(0.5).
  this->expectTensor({3}, {0.46211715726000974, 0, -0.46211715726000974},
                     ref::tanh(this->make({3}, {0.5, 0, -0.5})));
  // exp(0) = 1, exp(1) = e, exp(-1) = 1/e.
  this->expectTensor({3}, {1, 2.718281828459045, 0.36787944117144233},
                     ref::exp(this->make({3}, {0, 1, -1})));
  // log(1) = 0, log(e) = 1, log(0.25) = -2 log 2.
  this->expectTensor({3}, {0, 1, -1.3862943611198906},
                     ref::log(this->make({3}, {1, 2.718281828459045, 0.25})));
  this->expectTensor({3}, {2, 0, 3.5},
                     ref::abs(this->make({3}, {-2, 0, 3.5})));
  this->expectTensor({3}, {2, 0, 1.4142135623730951},
                     ref::sqrt(this->make({3}, {4, 0, 2})));
  this->expectTensor({3}, {-1, 0, 2.5},
                     ref::neg(this->make({3}, {1, 0, -2.5})));
  this->expectTensor({4}, {-1, 0, 1, 1},
                     ref::sign(this->make({4}, {-3, 0, 2, 1e-30})));
  this->expectTensor({3}, {0, 0, 3}, ref::relu(this->make({3}, {-3, 0, 3})));
  this->expectTensor({3}, {9, 0, 6.25},
                     ref::square(this->make({3}, {-3, 0, 2.5})));
  // Rank 0 keeps rank 0.
  this->expectTensor({}, {4}, ref::square(ref::scalar(T(-2))));
  // Generic map, v -> 2v+1: 1 -> 3, -3 -> -5.
  this->expectTensor({2, 1}, {3, -5},
                     ref::map(this->make({2, 1}, {1, -3}),
                              [](T v) { return 2 * v + 1; }));
}

TYPED_TEST(RefOpsTest, BinaryOpsAndBroadcast) {
  using T = TypeParam;
  auto a = this->make({3}, {1, 2, 3});
  auto b = this->make({3}, {4, -5, 6});
  auto two = ref::scalar(T(2));
  // Same shape.
  this->expectTensor({3}, {5, -3, 9}, ref::add(a, b));
  this->expectTensor({3}, {-3, 7, -3}, ref::sub(a, b));
  this->expectTensor({3}, {4, -10, 18}, ref::mul(a, b));
  this->expectTensor({3}, {0.25, -0.4, 0.5}, ref::div(a, b));
  this->expectTensor({3}, {1, -5, 3}, ref::min(a, b));
  this->expectTensor({3}, {4, 2, 6}, ref::max(a, b));
  // pow: 1^4 = 1, 2^-5 = 1/32, 3^6 = 729.
  this->expectTensor({3}, {1, 0.03125, 729}, ref::pow(a, b));
  // Scalar on the right: a+2, a-2, a*2, a/2, min(a,2), max(a,2), a^2.
  this->expectTensor({3}, {3, 4, 5}, ref::add(a, two));
  this->expectTensor({3}, {-1, 0, 1}, ref::sub(a, two));
  this->expectTensor({3}, {2, 4, 6}, ref::mul(a, two));
  this->expectTensor({3}, {0.5, 1, 1.5}, ref::div(a, two));
  this->expectTensor({3}, {1, 2, 2}, ref::min(a, two));
  this->expectTensor({3}, {2, 2, 3}, ref::max(a, two));
  this->expectTensor({3}, {1, 4, 9}, ref::pow(a, two));
  // Scalar on the left (order matters): 2-a, 2/a, 2^a.
  this->expectTensor({3}, {1, 0, -1}, ref::sub(two, a));
  this->expectTensor({3}, {2, 1, 0.6666666666666666}, ref::div(two, a));
  this->expectTensor({3}, {2, 4, 8}, ref::pow(two, a));
  this->expectTensor({3}, {1, 2, 2}, ref::min(two, a));
  // pow(2, 0.5) = sqrt 2.
  this->expectTensor({1}, {1.4142135623730951},
                     ref::pow(two, this->make({1}, {0.5})));
  // Rank 0 op rank 0 -> rank 0.
  this->expectTensor({}, {6}, ref::mul(two, ref::scalar(T(3))));
  // Rank-2 with scalar keeps the rank-2 shape.
  this->expectTensor({2, 2}, {-1, 0, 1, 2},
                     ref::sub(this->make({2, 2}, {1, 2, 3, 4}), two));
  // Generic zip, (u,v) -> 2u+v+3: 2+4+3 = 9, 4-5+3 = 2, 6+6+3 = 15.
  this->expectTensor({3}, {9, 2, 15},
                     ref::zip(a, b, [](T u, T v) { return 2 * u + v + 3; }));
}

TYPED_TEST(RefOpsTest, SumAndMean) {
  auto x = this->make({2, 2}, {1, 2, 3, 4});
  // 1+2+3+4 = 10; mean 10/4 = 2.5; both rank 0.
  this->expectTensor({}, {10}, ref::sum(x));
  this->expectTensor({}, {2.5}, ref::mean(x));
}

//===----------------------------------------------------------------------===//
// Mini-ImageNet reference learner (Ravi & Larochelle 2017)
//===----------------------------------------------------------------------===//

// One learner block's parameters: conv3x3 C->32 (pad 1), batch norm over 32.
template <class T> struct Block {
  Tensor<T> w, b, gamma, beta, runMean, runVar;
};

template <class T> std::vector<Block<T>> makeLearner(std::mt19937 &rng) {
  std::uniform_real_distribution<double> dist(-0.1, 0.1);
  auto rnd = [&](Shape s) {
    Tensor<T> t(std::move(s));
    for (auto &v : t.data)
      v = T(dist(rng));
    return t;
  };
  std::vector<Block<T>> blocks;
  int64_t in = 3;
  for (int i = 0; i < 4; ++i) {
    Block<T> blk{rnd({32, in, 3, 3}), rnd({32}), Tensor<T>({32}, T(1)),
                 Tensor<T>({32}, T(0)), Tensor<T>({32}, T(0)),
                 Tensor<T>({32}, T(1))};
    blocks.push_back(std::move(blk));
    in = 32;
  }
  return blocks;
}

TYPED_TEST(RefOpsTest, MiniImageNetLearnerShapes) {
  using T = TypeParam;
  std::mt19937 rng(1234);
  std::vector<Block<T>> blocks = makeLearner<T>(rng);
  Tensor<T> x({2, 3, 84, 84});
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  for (auto &v : x.data)
    v = T(dist(rng));
  // Spatial size per block: conv3x3 pad1 keeps it, maxpool2 floors the half:
  // 84 -> 42 -> 21 -> 10 -> 5.
  const int64_t expectedHW[4] = {42, 21, 10, 5};
  for (int i = 0; i < 4; ++i) {
    Block<T> &blk = blocks[i];
    x = ref::conv2d(x, blk.w, blk.b, 1, 1);
    x = ref::batchnormTrain(x, blk.gamma, blk.beta, T(1e-5), T(0.1),
                            blk.runMean, blk.runVar);
    x = ref::relu(x);
    x = ref::maxpool2d(x, 2, 2);
    EXPECT_EQ((Shape{2, 32, expectedHW[i], expectedHW[i]}), x.shape);
  }
  ASSERT_EQ((Shape{2, 32, 5, 5}), x.shape);
  for (T v : x.data) {
    ASSERT_TRUE(std::isfinite(v));
    ASSERT_GE(v, T(0)); // after relu + maxpool
  }
  // Classifier head: flatten to 32*5*5 = 800 features, linear 800 -> 5.
  Tensor<T> flat = ref::flatten(x);
  ASSERT_EQ((Shape{2, 800}), flat.shape);
  Tensor<T> lw({5, 800}, T(0.01)), lb({5}, T(0));
  Tensor<T> logits = ref::linear(flat, lw, lb);
  ASSERT_EQ((Shape{2, 5}), logits.shape);
  Tensor<int32_t> labels({2}, std::vector<int32_t>{0, 3});
  EXPECT_TRUE(std::isfinite(ref::crossEntropy(logits, labels)));

  // Parameter count, from the shapes: per block conv weight + bias + BN
  // gamma + beta; then the linear layer.
  int64_t count = 0;
  for (const Block<T> &blk : blocks)
    count += blk.w.numel() + blk.b.numel() + blk.gamma.numel() +
             blk.beta.numel();
  count += lw.numel() + lb.numel();
  // Block 1: 32*3*9 + 32 + 32 + 32 = 960; blocks 2-4: 32*32*9 + 96 = 9312
  // each; linear 800*5 + 5 = 4005. 960 + 3*9312 + 4005 = 32901.
  EXPECT_EQ(32901, count);
}

} // namespace
