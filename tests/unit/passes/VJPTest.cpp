//===- VJPTest.cpp - every derivative rule against finite differences ----===//
//
// For each op, L = sum(G * op(inputs)) with random inputs and a random G;
// the reverse sweep built from the op's rule (buildGradient) must match
// central differences of L: relative error < 1e-6 in double, < 1e-3 in
// float. Rules of backward ops are checked the same way, which is what
// makes second-order meta-gradients (`meta_gradient full`) exact.
//
//===----------------------------------------------------------------------===//
#include "dialect/LoptDialect.h"
#include "dialect/LoptOps.h"
#include "interpreter/Interpreter.h"
#include "passes/Autodiff.h"
#include "runtime/Random.h"
#include "tests/unit/passes/OpCases.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

using namespace lopt;
using namespace lopt::testing;
using llvm::cast;
using llvm::isa;

namespace {

class VJPTest : public ::testing::TestWithParam<Case> {
protected:
  VJPTest() {
    ctx.getOrLoadDialect<LoptDialect>();
    ctx.getOrLoadDialect<mlir::func::FuncDialect>();
  }

  void check(const Case &c) {
    std::string ir = caseModule(c, extraFunctions);
    module = mlir::parseSourceString<mlir::ModuleOp>(ir, &ctx);
    ASSERT_TRUE(module) << ir;
    checkFunction(module->lookupSymbol<mlir::func::FuncOp>("f"), c.name,
                  c.range, c.diffArgs);
  }

  /// `fn` returns a scalar L; its last argument is not differentiated.
  void checkFunction(mlir::func::FuncOp fn, const std::string &name,
                     Range range, int diffArgs = -1) {
    GradientSpec spec = caseSpec(fn, diffArgs);
    mlir::FailureOr<mlir::func::FuncOp> grad =
        buildGradient(fn, spec, (fn.getSymName() + ".grad").str());
    ASSERT_TRUE(mlir::succeeded(grad));
    ASSERT_TRUE(mlir::succeeded(mlir::verify(*module)));
    std::vector<RtValue<double>> args = randomArgs<double>(
        fn.getArgumentTypes(), range, std::hash<std::string>()(name));

    std::string error;
    std::vector<RtValue<double>> res;
    ASSERT_TRUE(interpret<double>(*grad, args, res, error)) << error;
    std::vector<RtValue<float>> argsF;
    for (const RtValue<double> &a : args)
      argsF.push_back(a.cast<float>());
    std::vector<RtValue<float>> resF;
    ASSERT_TRUE(interpret<float>(*grad, argsF, resF, error)) << error;

    auto loss = [&](std::vector<RtValue<double>> &a) {
      std::vector<RtValue<double>> r;
      EXPECT_TRUE(interpret<double>(fn, a, r, error)) << error;
      return r[0].f[0];
    };
    for (size_t w = 0; w < spec.wrt.size(); ++w) {
      unsigned i = spec.wrt[w];
      const Tensor<double> &an = res[1 + w].f;
      const Tensor<float> &anF = resF[1 + w].f;
      double maxDiff = 0, maxDiffF = 0, scale = 0;
      for (int64_t k = 0; k < args[i].f.numel(); ++k) {
        double x = args[i].f[k], h = 1e-6;
        args[i].f[k] = x + h;
        double plus = loss(args);
        args[i].f[k] = x - h;
        double minus = loss(args);
        args[i].f[k] = x;
        double fd = (plus - minus) / (2 * h);
        scale = std::max(scale, std::fabs(fd));
        maxDiff = std::max(maxDiff, std::fabs(fd - an[k]));
        maxDiffF = std::max(maxDiffF, std::fabs(fd - double(anF[k])));
      }
      // A derivative that is truly zero (a conv bias before batch norm) is
      // checked absolutely, against rounding noise.
      scale = std::max(scale, 1e-4);
      EXPECT_LT(maxDiff / scale, 1e-6)
          << name << ": d/d(argument " << i << "), double: max |fd - an| "
          << maxDiff << ", scale " << scale;
      EXPECT_LT(maxDiffF / scale, 1e-3)
          << name << ": d/d(argument " << i << "), float";
    }
  }

  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string extraFunctions;
};

TEST_P(VJPTest, MatchesFiniteDifferences) { check(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Ops, VJPTest, ::testing::ValuesIn(cases()),
                         [](const auto &info) { return info.param.name; });

// stop_gradient is the identity with a zero derivative by definition, so
// finite differences cannot check it: its adjoint must be exactly zero.
TEST_F(VJPTest, StopGradientHasZeroAdjoint) {
  module = mlir::parseSourceString<mlir::ModuleOp>(R"(
func.func @f(%x: tensor<3xf32>) -> tensor<f32> {
  %s = lopt.stop_gradient %x : tensor<3xf32>
  %y = lopt.mul %s, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %r = lopt.reduce_sum %y {dims = array<i64: 0>} : (tensor<3xf32>) -> tensor<f32>
  return %r : tensor<f32>
})", &ctx);
  ASSERT_TRUE(module);
  GradientSpec spec;
  spec.seeds = {0};
  spec.wrt = {0};
  auto grad = buildGradient(module->lookupSymbol<mlir::func::FuncOp>("f"),
                            spec, "f.grad");
  ASSERT_TRUE(mlir::succeeded(grad));
  std::vector<RtValue<double>> res;
  std::string error;
  std::vector<RtValue<double>> args{
      Tensor<double>({3}, std::vector<double>{1, -2, 3})};
  ASSERT_TRUE(interpret<double>(*grad, args, res, error)) << error;
  // d/dx [stop(x) * x] = stop(x): only the second factor contributes.
  EXPECT_EQ(res[1].f.data, (std::vector<double>{1, -2, 3}));
}

// lopt.map_cell is differentiated through the cell's own VJP function,
// with shared operands' adjoints summed over coordinates.
TEST_F(VJPTest, MapCell) {
  extraFunctions = R"(
func.func @cell(%p: tensor<f32>, %g: tensor<f32>, %s: tensor<2xf32>, %w: tensor<2xf32>, %b: tensor<f32>)
    -> (tensor<f32>, tensor<2xf32>) {
  %z = lopt.affine %s, %w, %b : (tensor<2xf32>, tensor<2xf32>, tensor<f32>) -> tensor<f32>
  %r = lopt.sigmoid %z : tensor<f32>
  %u = lopt.mul %r, %g : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %p1 = lopt.sub %p, %u : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %t = lopt.tanh %s : tensor<2xf32>
  %s1 = lopt.mul %t, %p1 : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  return %p1, %s1 : tensor<f32>, tensor<2xf32>
})";
  check({"map_cell",
         "%p: tensor<5xf32>, %g: tensor<5xf32>, %s: tensor<5x2xf32>, %w: tensor<2xf32>, %b: tensor<f32>",
         "  %q, %y = lopt.map_cell @cell(%p, %g, %s, %w, %b) {coords = 5 : i64, mapped = array<i1: true, true, true, false, false>}"
         " : (tensor<5xf32>, tensor<5xf32>, tensor<5x2xf32>, tensor<2xf32>, tensor<f32>) -> (tensor<5xf32>, tensor<5x2xf32>)",
         "tensor<5x2xf32>"});
}

// Second order, as `meta_gradient full` needs: the gradient of a small
// conv learner's loss is itself differentiated w.r.t. every input.
TEST_F(VJPTest, LearnerGradientIsDifferentiable) {
  module = mlir::parseSourceString<mlir::ModuleOp>(R"(
func.func @learner(%x: tensor<2x1x4x4xf32>, %l: tensor<2xi32>, %w: tensor<2x1x3x3xf32>, %b: tensor<2xf32>,
                   %g: tensor<2xf32>, %beta: tensor<2xf32>, %lw: tensor<3x8xf32>, %lb: tensor<3xf32>) -> tensor<f32> {
  %m = lopt.constant dense<0.0> : tensor<2xf32>
  %v = lopt.constant dense<1.0> : tensor<2xf32>
  %0 = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<2x2x4x4xf32>
  %1, %m1, %v1, %mu2, %inv2 = lopt.batchnorm %0, %g, %beta, %m, %v {eps = 1.0e-3 : f64, momentum = 0.9 : f64, mode = "train"} : (tensor<2x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<2x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
  %2 = lopt.tanh %1 : tensor<2x2x4x4xf32>
  %3 = lopt.maxpool %2 {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x2x4x4xf32>) -> tensor<2x2x2x2xf32>
  %4 = lopt.flatten %3 : (tensor<2x2x2x2xf32>) -> tensor<2x8xf32>
  %5 = lopt.linear %4, %lw, %lb : (tensor<2x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %6 = lopt.cross_entropy %5, %l : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
  return %6 : tensor<f32>
})", &ctx);
  ASSERT_TRUE(module);
  auto learner = module->lookupSymbol<mlir::func::FuncOp>("learner");
  GradientSpec spec;
  spec.seeds = {0};
  spec.wrt = {2, 3, 4, 5, 6, 7};
  mlir::FailureOr<mlir::func::FuncOp> grad =
      buildGradient(learner, spec, "learner.grad");
  ASSERT_TRUE(mlir::succeeded(grad));
  // f(inputs, G) = sum(G * dL/dw) for the conv weight w.
  mlir::OpBuilder b(&ctx);
  b.setInsertionPointToEnd(module->getBody());
  mlir::Location loc = b.getUnknownLoc();
  auto wType = learner.getArgumentTypes()[2];
  llvm::SmallVector<mlir::Type> argTypes(learner.getArgumentTypes());
  argTypes.push_back(wType);
  auto f = b.create<mlir::func::FuncOp>(
      loc, "second",
      b.getFunctionType(argTypes,
                        {mlir::RankedTensorType::get({}, b.getF32Type())}));
  mlir::Block *block = f.addEntryBlock();
  b.setInsertionPointToEnd(block);
  llvm::SmallVector<mlir::Value> r =
      inlineBody(b, *grad, block->getArguments().drop_back());
  mlir::Value p = b.create<MulOp>(loc, wType, r[1], block->getArguments().back());
  mlir::Value s = b.create<ReduceSumOp>(
      loc, mlir::RankedTensorType::get({}, b.getF32Type()), p,
      b.getDenseI64ArrayAttr({0, 1, 2, 3}));
  b.create<mlir::func::ReturnOp>(loc, s);
  checkFunction(f, "learner_second_order", Range::Signed);
}

} // namespace
