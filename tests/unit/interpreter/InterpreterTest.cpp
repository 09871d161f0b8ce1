//===- InterpreterTest.cpp - the reference interpreter over lopt IR -------===//
#include "interpreter/Interpreter.h"
#include "interpreter/RefOps.h"

#include "dialect/LoptDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace lopt;

namespace {

class InterpreterTest : public ::testing::Test {
protected:
  InterpreterTest() {
    ctx.getOrLoadDialect<LoptDialect>();
    ctx.getOrLoadDialect<mlir::func::FuncDialect>();
  }
  mlir::func::FuncOp parse(const std::string &ir) {
    module = mlir::parseSourceString<mlir::ModuleOp>(ir, &ctx);
    EXPECT_TRUE(module) << ir;
    return *module->getOps<mlir::func::FuncOp>().begin();
  }
  template <typename T>
  std::vector<RtValue<T>> run(mlir::func::FuncOp fn,
                              std::vector<RtValue<T>> args) {
    std::vector<RtValue<T>> results;
    std::string error;
    EXPECT_TRUE(interpret<T>(fn, args, results, error)) << error;
    return results;
  }

  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

Tensor<float> iota(Shape s, float scale, float offset = 0) {
  Tensor<float> t(std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i)
    t[i] = offset + scale * float((i * 37) % 17 - 8);
  return t;
}

void expectEqual(const Tensor<float> &a, const Tensor<float> &b) {
  ASSERT_EQ(a.shape, b.shape);
  for (int64_t i = 0; i < a.numel(); ++i)
    EXPECT_EQ(a[i], b[i]) << "element " << i;
}

// A learner with every learner op: the interpreter's result must be exactly
// the composition of the reference ops (it adds no arithmetic of its own).
TEST_F(InterpreterTest, LearnerOpsMatchReferenceOps) {
  auto fn = parse(R"(
func.func @f(%x: tensor<2x1x6x6xf32>, %y: tensor<2xi32>, %w: tensor<3x1x3x3xf32>, %b: tensor<3xf32>,
             %g: tensor<3xf32>, %beta: tensor<3xf32>, %m: tensor<3xf32>, %v: tensor<3xf32>,
             %lw: tensor<4x27xf32>, %lb: tensor<4xf32>)
    -> (tensor<f32>, tensor<2x4xf32>, tensor<3xf32>, tensor<3xf32>) {
  %0 = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x6x6xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> tensor<2x3x6x6xf32>
  %1, %m1, %v1, %mu3, %inv3 = lopt.batchnorm %0, %g, %beta, %m, %v {eps = 1.0e-3 : f64, momentum = 0.9 : f64, mode = "train"} : (tensor<2x3x6x6xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x6x6xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>)
  %2 = lopt.relu %1 : tensor<2x3x6x6xf32>
  %3 = lopt.maxpool %2 {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x3x6x6xf32>) -> tensor<2x3x3x3xf32>
  %4 = lopt.flatten %3 : (tensor<2x3x3x3xf32>) -> tensor<2x27xf32>
  %5 = lopt.linear %4, %lw, %lb : (tensor<2x27xf32>, tensor<4x27xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %6 = lopt.cross_entropy %5, %y : (tensor<2x4xf32>, tensor<2xi32>) -> tensor<f32>
  return %6, %5, %m1, %v1 : tensor<f32>, tensor<2x4xf32>, tensor<3xf32>, tensor<3xf32>
})");
  Tensor<float> x = iota({2, 1, 6, 6}, 0.1f), w = iota({3, 1, 3, 3}, 0.05f),
                b = iota({3}, 0.01f), g = iota({3}, 0.1f, 1.0f),
                beta = iota({3}, 0.02f), m({3}, 0.0f), v({3}, 1.0f),
                lw = iota({4, 27}, 0.03f), lb = iota({4}, 0.01f);
  Tensor<int32_t> y({2}, std::vector<int32_t>{1, 3});
  auto r = run<float>(fn, {x, y, w, b, g, beta, m, v, lw, lb});

  Tensor<float> rm = m, rv = v;
  auto h = ref::conv2d(x, w, b, 1, 1);
  h = ref::batchnormTrain(h, g, beta, 1e-3f, 0.9f, rm, rv);
  h = ref::linear(ref::flatten(ref::maxpool2d(ref::relu(h), 2, 2)), lw, lb);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].f[0], ref::crossEntropy(h, y));
  expectEqual(r[1].f, h);
  expectEqual(r[2].f, rm);
  expectEqual(r[3].f, rv);
}

// Evaluation-mode batch norm normalises with the given statistics and
// returns them unchanged.
TEST_F(InterpreterTest, BatchNormEvalUsesRunningStatistics) {
  auto fn = parse(R"(
func.func @f(%x: tensor<2x2xf32>, %s: tensor<2xf32>, %z: tensor<2xf32>, %m: tensor<2xf32>, %v: tensor<2xf32>)
    -> (tensor<2x2xf32>, tensor<2xf32>) {
  %y, %m1, %v1, %mu4, %inv4 = lopt.batchnorm %x, %s, %z, %m, %v {eps = 1.0e-3 : f64, momentum = 0.9 : f64, mode = "eval"} : (tensor<2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
  return %y, %m1 : tensor<2x2xf32>, tensor<2xf32>
})");
  Tensor<float> x({2, 2}, std::vector<float>{1, 2, 3, 4});
  Tensor<float> one({2}, 1.0f), zero({2}, 0.0f);
  Tensor<float> mean({2}, std::vector<float>{1, 2});
  Tensor<float> var({2}, std::vector<float>{4 - 1e-3f, 1 - 1e-3f});
  auto r = run<float>(fn, {x, one, zero, mean, var});
  // (x - mean) / sqrt(var + eps): column 0 over 2, column 1 over 1.
  EXPECT_NEAR(r[0].f.at(0, 0), 0.0f, 1e-6);
  EXPECT_NEAR(r[0].f.at(1, 0), 1.0f, 1e-6);
  EXPECT_NEAR(r[0].f.at(0, 1), 0.0f, 1e-6);
  EXPECT_NEAR(r[0].f.at(1, 1), 2.0f, 1e-6);
  expectEqual(r[1].f, mean);
}

// One step of the Ravi & Larochelle cell as MLIRGen emits it, in double,
// against the same maths written out with the reference ops.
TEST_F(InterpreterTest, MetaLstmCellStep) {
  auto fn = parse(R"(
func.func @metalstm(%p: tensor<f32> {lopt.name = "param", lopt.role = "param"}, %g: tensor<f32> {lopt.name = "grad", lopt.role = "input"}, %l: tensor<f32> {lopt.name = "loss", lopt.role = "input"},
    %h: tensor<3xf32> {lopt.name = "h", lopt.role = "state"}, %c: tensor<3xf32> {lopt.name = "c", lopt.role = "state"}, %f: tensor<f32> {lopt.name = "f", lopt.role = "state"}, %i: tensor<f32> {lopt.name = "i", lopt.role = "state"},
    %w: tensor<12x7xf32> {lopt.name = "h.weight", lopt.role = "meta"}, %b: tensor<12xf32> {lopt.name = "h.bias", lopt.role = "meta"},
    %wf: tensor<5xf32> {lopt.name = "f.weight", lopt.role = "meta"}, %bf: tensor<f32> {lopt.name = "f.bias", lopt.role = "meta"},
    %wi: tensor<5xf32> {lopt.name = "i.weight", lopt.role = "meta"}, %bi: tensor<f32> {lopt.name = "i.bias", lopt.role = "meta"})
    -> (tensor<f32>, tensor<3xf32>, tensor<3xf32>, tensor<f32>, tensor<f32>) attributes {lopt.cell = "metalstm"} {
  %0 = lopt.preprocess %l {p = 10.0 : f64} : (tensor<f32>) -> tensor<2xf32>
  %1 = lopt.preprocess %g {p = 10.0 : f64} : (tensor<f32>) -> tensor<2xf32>
  %2 = lopt.concat %0, %1 : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf32>
  %h1, %c1 = lopt.lstm %2, %h, %c, %w, %b : (tensor<4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<12x7xf32>, tensor<12xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  %3 = lopt.concat %h1, %p, %f : (tensor<3xf32>, tensor<f32>, tensor<f32>) -> tensor<5xf32>
  %4 = lopt.affine %3, %wf, %bf : (tensor<5xf32>, tensor<5xf32>, tensor<f32>) -> tensor<f32>
  %5 = lopt.concat %h1, %p, %i : (tensor<3xf32>, tensor<f32>, tensor<f32>) -> tensor<5xf32>
  %6 = lopt.affine %5, %wi, %bi : (tensor<5xf32>, tensor<5xf32>, tensor<f32>) -> tensor<f32>
  %7 = lopt.sigmoid %4 : tensor<f32>
  %8 = lopt.mul %7, %p : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %9 = lopt.sigmoid %6 : tensor<f32>
  %10 = lopt.mul %9, %g : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %11 = lopt.sub %8, %10 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %11, %h1, %c1, %4, %6 : tensor<f32>, tensor<3xf32>, tensor<3xf32>, tensor<f32>, tensor<f32>
})");
  using T = double;
  auto vec = [](Shape s, double scale, double offset = 0) {
    return iota(std::move(s), float(scale), float(offset)).cast<T>();
  };
  Tensor<T> p = ref::scalar<T>(0.3), g = ref::scalar<T>(-2e-5),
            l = ref::scalar<T>(1.6), h = vec({3}, 0.05), c = vec({3}, 0.1),
            f = ref::scalar<T>(4.5), i = ref::scalar<T>(-4.5),
            w = vec({12, 7}, 0.01), b = vec({12}, 0.01), wf = vec({5}, 0.01),
            bf = ref::scalar<T>(4.2), wi = vec({5}, 0.01),
            bi = ref::scalar<T>(-4.7);
  auto r = run<T>(fn, {p, g, l, h, c, f, i, w, b, wf, bf, wi, bi});

  Tensor<T> pl = ref::preprocess(l, T(10)), pg = ref::preprocess(g, T(10));
  auto x = ref::concat<T>({&pl, &pg});
  auto [h1, c1] = ref::lstmCell(x, h, c, w, b);
  auto fNew = ref::affine(ref::concat<T>({&h1, &p, &f}), wf, bf);
  auto iNew = ref::affine(ref::concat<T>({&h1, &p, &i}), wi, bi);
  T expected = ref::sigmoidScalar(fNew[0]) * p[0] -
               ref::sigmoidScalar(iNew[0]) * g[0];
  EXPECT_DOUBLE_EQ(r[0].f[0], expected);
  EXPECT_DOUBLE_EQ(r[3].f[0], fNew[0]);
  EXPECT_DOUBLE_EQ(r[4].f[0], iNew[0]);
  for (int k = 0; k < 3; ++k) {
    EXPECT_DOUBLE_EQ(r[1].f[k], h1[k]);
    EXPECT_DOUBLE_EQ(r[2].f[k], c1[k]);
  }
  // With the forget bias near 4.5 and input bias near -4.7 the cell starts
  // close to plain gradient descent: theta barely shrinks.
  EXPECT_NEAR(r[0].f[0], 0.3, 0.01);
}

// Hand-computed: an SGD cell with a constant learning rate, and the
// elementwise ops with scalar broadcast, in float.
TEST_F(InterpreterTest, ElementwiseAndConstants) {
  auto fn = parse(R"(
func.func @f(%p: tensor<f32>, %g: tensor<f32>, %v: tensor<2xf32>) -> (tensor<f32>, tensor<2xf32>) {
  %lr = lopt.constant dense<0.5> : tensor<f32>
  %0 = lopt.mul %lr, %g : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %1 = lopt.sub %p, %0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %2 = lopt.pow %v, %lr : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %3 = lopt.max %2, %g : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  return %1, %3 : tensor<f32>, tensor<2xf32>
})");
  auto r = run<float>(fn, {ref::scalar(1.0f), ref::scalar(0.4f),
                           Tensor<float>({2}, std::vector<float>{0.09f, 4})});
  EXPECT_FLOAT_EQ(r[0].f[0], 0.8f);   // 1 - 0.5 * 0.4
  EXPECT_FLOAT_EQ(r[1].f[0], 0.4f);   // max(sqrt(0.09) = 0.3, 0.4)
  EXPECT_FLOAT_EQ(r[1].f[1], 2.0f);   // max(sqrt(4), 0.4)
}

// Every elementwise op dispatches to its reference op (exact equality), on a
// vector, in double.
TEST_F(InterpreterTest, EveryElementwiseOpMatchesItsReferenceOp) {
  using T = double;
  Tensor<T> a({4}, std::vector<T>{0.25, 1.5, 2.0, 0.75});
  Tensor<T> b({4}, std::vector<T>{-1.0, 0.5, 3.0, 0.75});
  struct Case {
    const char *op;
    Tensor<T> (*ref)(const Tensor<T> &);
  };
  for (const Case &c : std::vector<Case>{
           {"neg", ref::neg<T>}, {"relu", ref::relu<T>},
           {"sigmoid", ref::sigmoid<T>}, {"tanh", ref::tanh<T>},
           {"exp", ref::exp<T>}, {"log", ref::log<T>}, {"abs", ref::abs<T>},
           {"sqrt", ref::sqrt<T>}, {"sign", ref::sign<T>},
           {"square", ref::square<T>}}) {
    auto fn = parse(std::string("func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n") +
                    "  %0 = lopt." + c.op + " %x : tensor<4xf32>\n" +
                    "  return %0 : tensor<4xf32>\n}");
    auto r = run<T>(fn, {a});
    Tensor<T> want = c.ref(a);
    for (int k = 0; k < 4; ++k)
      EXPECT_EQ(r[0].f[k], want[k]) << c.op << " element " << k;
  }
  struct BinCase {
    const char *op;
    Tensor<T> (*ref)(const Tensor<T> &, const Tensor<T> &);
  };
  for (const BinCase &c : std::vector<BinCase>{
           {"add", ref::add<T>}, {"sub", ref::sub<T>}, {"mul", ref::mul<T>},
           {"div", ref::div<T>}, {"pow", ref::pow<T>}, {"min", ref::min<T>},
           {"max", ref::max<T>}}) {
    auto fn = parse(std::string("func.func @f(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {\n") +
                    "  %0 = lopt." + c.op + " %x, %y : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>\n" +
                    "  return %0 : tensor<4xf32>\n}");
    auto r = run<T>(fn, {a, b});
    Tensor<T> want = c.ref(a, b);
    for (int k = 0; k < 4; ++k)
      EXPECT_EQ(r[0].f[k], want[k]) << c.op << " element " << k;
  }
}

TEST_F(InterpreterTest, RejectsWrongArgumentShapes) {
  auto fn = parse(R"(
func.func @f(%x: tensor<3xf32> {lopt.name = "x", lopt.role = "input"}) -> tensor<3xf32> {
  %0 = lopt.relu %x : tensor<3xf32>
  return %0 : tensor<3xf32>
})");
  std::vector<RtValue<float>> results;
  std::string error;
  std::vector<RtValue<float>> args{Tensor<float>({4})};
  EXPECT_FALSE(interpret<float>(fn, args, results, error));
  EXPECT_EQ(error, "argument #0 ('x') has shape [4], expected [3]");
  args.clear();
  EXPECT_FALSE(interpret<float>(fn, args, results, error));
  EXPECT_EQ(error, "function 'f' takes 1 arguments, got 0");
}

TEST_F(InterpreterTest, RejectsLabelsOutOfRange) {
  auto fn = parse(R"(
func.func @f(%l: tensor<1x3xf32>, %y: tensor<1xi32>) -> tensor<f32> {
  %0 = lopt.cross_entropy %l, %y : (tensor<1x3xf32>, tensor<1xi32>) -> tensor<f32>
  return %0 : tensor<f32>
})");
  std::vector<RtValue<float>> results;
  std::string error;
  std::vector<RtValue<float>> args{Tensor<float>({1, 3}),
                                   Tensor<int32_t>({1}, std::vector<int32_t>{3})};
  EXPECT_FALSE(interpret<float>(fn, args, results, error));
  EXPECT_NE(error.find("label 3 is outside [0, 3)"), std::string::npos) << error;
}

TEST_F(InterpreterTest, DescribesRolesNamesAndInitialisers) {
  auto fn = parse(R"(
func.func @f(%x: tensor<2x3xf32> {lopt.role = "input", lopt.name = "x"},
             %w: tensor<4x3xf32> {lopt.role = "param", lopt.name = "linear_0.weight", lopt.init = {kind = "fan_in_uniform", fan_in = 3 : i64}},
             %s: tensor<f32> {lopt.role = "meta", lopt.name = "s", lopt.init = {kind = "uniform", low = 4.0 : f64, high = 5.0 : f64}})
    -> (tensor<2x3xf32> {lopt.role = "logits"}) {
  return %x : tensor<2x3xf32>
})");
  auto args = describeArguments(fn);
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[1].role, "param");
  EXPECT_EQ(args[1].name, "linear_0.weight");
  EXPECT_EQ(args[1].shape, (Shape{4, 3}));
  EXPECT_EQ(args[1].init.kind, "fan_in_uniform");
  EXPECT_EQ(args[1].init.fanIn, 3);
  EXPECT_EQ(args[2].init.kind, "uniform");
  EXPECT_EQ(args[2].init.a, 4.0);
  EXPECT_EQ(args[2].init.b, 5.0);
  EXPECT_EQ(describeResults(fn)[0].role, "logits");

  Rng rng(7);
  Tensor<float> w = sampleInit(args[1].init, args[1].shape, rng);
  for (float v : w.data)
    EXPECT_LE(std::fabs(v), 1 / std::sqrt(3.0f));
  Tensor<float> s = sampleInit(args[2].init, args[2].shape, rng);
  EXPECT_GE(s[0], 4.0f);
  EXPECT_LT(s[0], 5.0f);
}

} // namespace
