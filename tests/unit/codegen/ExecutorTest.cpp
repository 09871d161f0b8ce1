//===- ExecutorTest.cpp - Halide kernels against the interpreter ---------===//
//
// Every op, and its reverse-mode derivative (so the ops derivative rules
// emit too), run through JIT-compiled Halide kernels and through the
// reference interpreter on random inputs: the results agree within 1e-4
// relative.
//
//===----------------------------------------------------------------------===//
#include "codegen/Executor.h"
#include "codegen/Program.h"
#include "dialect/LoptDialect.h"
#include "dialect/LoptOps.h"
#include "interpreter/Interpreter.h"
#include "passes/Autodiff.h"
#include "runtime/Random.h"
#include "tests/unit/passes/OpCases.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace lopt;
using namespace lopt::testing;
using llvm::cast;
using llvm::isa;

namespace {

/// One compiler for the whole test binary: kernels are cached by shape.
codegen::HalideExecutor &executor() {
  static codegen::HalideExecutor e;
  return e;
}

class ExecutorTest : public ::testing::TestWithParam<Case> {
public:
  ExecutorTest() {
    ctx.getOrLoadDialect<LoptDialect>();
    ctx.getOrLoadDialect<mlir::func::FuncDialect>();
  }

  void check(const Case &c, const std::string &extra = "") {
    std::string ir = caseModule(c, extra);
    module = mlir::parseSourceString<mlir::ModuleOp>(ir, &ctx);
    ASSERT_TRUE(module) << ir;
    auto fn = module->lookupSymbol<mlir::func::FuncOp>("f");
    auto grad = buildGradient(fn, caseSpec(fn, c.diffArgs), "f.grad");
    ASSERT_TRUE(mlir::succeeded(grad));
    std::vector<RtValue<float>> args = randomArgs<float>(
        grad->getArgumentTypes(), c.range, std::hash<std::string>()(c.name) + 1);
    std::vector<RtValue<float>> want, got;
    std::string error;
    ASSERT_TRUE(interpret<float>(*grad, args, want, error)) << error;
    ASSERT_TRUE(executor().run(*grad, args, got, error)) << c.name << ": " << error;
    ASSERT_EQ(want.size(), got.size());
    for (size_t r = 0; r < want.size(); ++r) {
      const Tensor<float> &a = want[r].f, &b = got[r].f;
      ASSERT_EQ(a.shape, b.shape) << c.name << " result " << r;
      double scale = 1e-6, diff = 0;
      for (int64_t k = 0; k < a.numel(); ++k) {
        scale = std::max(scale, double(std::fabs(a[k])));
        diff = std::max(diff, double(std::fabs(a[k] - b[k])));
      }
      EXPECT_LE(diff / scale, 1e-4)
          << c.name << ": result " << r << " differs by " << diff
          << " (scale " << scale << ")";
    }
  }

  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

TEST_P(ExecutorTest, MatchesInterpreter) { check(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Ops, ExecutorTest, ::testing::ValuesIn(cases()),
                         [](const auto &info) { return info.param.name; });

TEST_F(ExecutorTest, MapCell) {
  check({"map_cell",
         "%p: tensor<5xf32>, %g: tensor<5xf32>, %s: tensor<5x2xf32>, %w: tensor<2xf32>, %b: tensor<f32>",
         "  %q, %y = lopt.map_cell @cell(%p, %g, %s, %w, %b) {coords = 5 : i64, mapped = array<i1: true, true, true, false, false>}"
         " : (tensor<5xf32>, tensor<5xf32>, tensor<5x2xf32>, tensor<2xf32>, tensor<f32>) -> (tensor<5xf32>, tensor<5x2xf32>)",
         "tensor<5x2xf32>"},
        R"(
func.func @cell(%p: tensor<f32>, %g: tensor<f32>, %s: tensor<2xf32>, %w: tensor<2xf32>, %b: tensor<f32>)
    -> (tensor<f32>, tensor<2xf32>) {
  %z = lopt.affine %s, %w, %b : (tensor<2xf32>, tensor<2xf32>, tensor<f32>) -> tensor<f32>
  %r = lopt.sigmoid %z : tensor<f32>
  %u = lopt.mul %r, %g : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %p1 = lopt.sub %p, %u : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %t = lopt.tanh %s : tensor<2xf32>
  %s1 = lopt.mul %t, %p1 : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %c = lopt.concat %s1, %p1 : (tensor<2xf32>, tensor<f32>) -> tensor<3xf32>
  %pp = lopt.preprocess %p1 {p = 10.0 : f64} : (tensor<f32>) -> tensor<2xf32>
  %lw = lopt.constant dense<0.1> : tensor<8x4xf32>
  %lb = lopt.constant dense<0.2> : tensor<8xf32>
  %h1, %c1 = lopt.lstm %pp, %s, %t, %lw, %lb : (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>, tensor<8xf32>) -> (tensor<2xf32>, tensor<2xf32>)
  %out = lopt.add %s1, %h1 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %p1, %out : tensor<f32>, tensor<2xf32>
})");
}

// A convolution whose channels fill whole vectors (16) and whose rows are
// narrower than two (7 and 3 pixels, at stride 1 and 2): on a CPU its sum,
// and its input gradient's, run with the channels innermost
// (HalideLowering.cpp, channelsInner), the bias added per channel.
TEST_F(ExecutorTest, ConvolutionWithChannelsInnermost) {
  check({"conv2d_channels_inner", "%x: tensor<2x16x7x7xf32>, %w: tensor<16x16x3x3xf32>, %b: tensor<16xf32>",
         "  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x16x7x7xf32>, tensor<16x16x3x3xf32>, tensor<16xf32>) -> tensor<2x16x7x7xf32>",
         "tensor<2x16x7x7xf32>"});
  check({"conv2d_channels_inner_s2", "%x: tensor<2x16x7x7xf32>, %w: tensor<16x16x3x3xf32>, %b: tensor<16xf32>",
         "  %y = lopt.conv2d %x, %w, %b {pad = 0 : i64, stride = 2 : i64} : (tensor<2x16x7x7xf32>, tensor<16x16x3x3xf32>, tensor<16xf32>) -> tensor<2x16x3x3xf32>",
         "tensor<2x16x3x3xf32>"});
}

// A convolution whose rows are wider than two vectors but not whole ones
// (37 and 38 pixels, at stride 1 and 2): on a CPU its weight gradient's
// partial sums run in whole vectors, the last overlapping the one before,
// and the sum over the columns takes each column once (HalideLowering.cpp,
// conv2d_backward_filter).
TEST_F(ExecutorTest, WeightGradientOverWideRows) {
  check({"conv2d_wide_rows", "%x: tensor<2x2x4x37xf32>, %w: tensor<3x2x3x3xf32>, %b: tensor<3xf32>",
         "  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x2x4x37xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<2x3x4x37xf32>",
         "tensor<2x3x4x37xf32>"});
  check({"conv2d_wide_rows_s2", "%x: tensor<2x2x5x75xf32>, %w: tensor<3x2x3x3xf32>, %b: tensor<3xf32>",
         "  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 2 : i64} : (tensor<2x2x5x75xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<2x3x3x38xf32>",
         "tensor<2x3x3x38xf32>"});
}

// A first layer's weight gradient joins the run that makes its gradient
// (which is then never stored) also when a sum that an earlier run took in
// (it reads that run's value) lies between them.
TEST_F(ExecutorTest, WeightGradientJoinsRunPastAnEarlierRunsSum) {
  module = mlir::parseSourceString<mlir::ModuleOp>(R"(
func.func @f(%x: tensor<2x1x4x4xf32>, %g: tensor<2x3x4x4xf32>, %s: tensor<2x3x4x4xf32>,
             %w: tensor<3x1x3x3xf32>, %b: tensor<3xf32>)
    -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3x1x3x3xf32>) {
  %a = lopt.mul %g, %s : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x4x4xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> tensor<2x3x4x4xf32>
  %dy = lopt.mul %y, %g : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %ra = lopt.reduce_sum %a {dims = array<i64: 0, 2, 3>} : (tensor<2x3x4x4xf32>) -> tensor<3xf32>
  %dw = lopt.conv2d_backward_filter %x, %dy {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<3x1x3x3xf32>
  return %y, %ra, %dw : tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3x1x3x3xf32>
})", &ctx);
  ASSERT_TRUE(module);
  auto fn = module->lookupSymbol<mlir::func::FuncOp>("f");
  codegen::KernelTable table;
  codegen::Program prog;
  std::string error;
  ASSERT_TRUE(codegen::buildProgram(fn, table, prog, error)) << error;
  std::vector<std::string> steps;
  for (const codegen::ProgramStep &step : prog.steps)
    steps.push_back(step.op);
  EXPECT_EQ(steps, (std::vector<std::string>{"mul, reduce_sum", "conv2d",
                                             "mul, conv2d_backward_filter"}));
  std::vector<RtValue<float>> args =
      randomArgs<float>(fn.getArgumentTypes(), Range::Signed, 7);
  std::vector<RtValue<float>> want, got;
  ASSERT_TRUE(interpret<float>(fn, args, want, error)) << error;
  ASSERT_TRUE(executor().run(fn, args, got, error)) << error;
  ASSERT_EQ(want.size(), got.size());
  for (size_t r = 0; r < want.size(); ++r)
    for (int64_t k = 0; k < want[r].f.numel(); ++k)
      EXPECT_NEAR(want[r].f[k], got[r].f[k], 1e-4 * (1 + std::fabs(want[r].f[k])));
}

// The CPU's sigmoid and tanh (HalideLowering.cpp, GateMath::cpuSigmoid: an
// inline exponential of degree 5) against double precision, on every
// 1e-4 step of [-90, 90]: the sigmoid within 4e-7 relative where
// exp(-|x|) is a normal float, 0 and 1 beyond (not NaN, not garbage from
// the exponent's bits), tanh within 3e-7 absolute; NaN stays NaN.
TEST_F(ExecutorTest, SigmoidAndTanhAgainstDouble) {
  const int64_t n = 1800001;
  std::string t = "tensor<" + std::to_string(n) + "xf32>";
  module = mlir::parseSourceString<mlir::ModuleOp>(
      "func.func @f(%x: " + t + ") -> (" + t + ", " + t + ") {\n"
      "  %s = lopt.sigmoid %x : " + t + "\n"
      "  %h = lopt.tanh %x : " + t + "\n"
      "  return %s, %h : " + t + ", " + t + "\n}\n", &ctx);
  ASSERT_TRUE(module);
  auto fn = module->lookupSymbol<mlir::func::FuncOp>("f");
  Tensor<float> x({n});
  for (int64_t k = 0; k < n; ++k)
    x[k] = float(-90.0 + 1e-4 * double(k));
  x[n / 2 + 1] = std::nanf("");
  std::vector<RtValue<float>> got;
  std::string error;
  ASSERT_TRUE(executor().run(fn, {RtValue<float>(x)}, got, error)) << error;
  ASSERT_EQ(got.size(), 2u);
  double worstSigmoid = 0, worstTanh = 0;
  for (int64_t k = 0; k < n; ++k) {
    double v = x[k], s = got[0].f[k], h = got[1].f[k];
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(s) && std::isnan(h));
      continue;
    }
    double want = 1 / (1 + std::exp(-v));
    if (v < -87.33) {
      ASSERT_TRUE(s >= 0 && s <= 1.2e-38) << "sigmoid(" << v << ") = " << s;
    } else {
      worstSigmoid = std::max(worstSigmoid, std::fabs(s - want) / want);
    }
    worstTanh = std::max(worstTanh, std::fabs(h - std::tanh(v)));
  }
  EXPECT_LE(worstSigmoid, 4e-7);
  EXPECT_LE(worstTanh, 3e-7);
  EXPECT_EQ(got[0].f[n - 1], 1.0f);
  EXPECT_EQ(got[1].f[0], -1.0f);
}

struct CellOp {
  std::string name, body;
};

class MapCellOps : public ExecutorTest {};

TEST_F(MapCellOps, EachCellOp) {
  std::vector<CellOp> ops{
      {"affine", "  %y = lopt.affine %s, %w, %b : (tensor<2xf32>, tensor<2xf32>, tensor<f32>) -> tensor<f32>\n"
                 "  %o = lopt.mul %y, %s : (tensor<f32>, tensor<2xf32>) -> tensor<2xf32>"},
      {"concat", "  %c = lopt.concat %s, %p : (tensor<2xf32>, tensor<f32>) -> tensor<3xf32>\n"
                 "  %o = lopt.slice %c {offsets = array<i64: 1>} : (tensor<3xf32>) -> tensor<2xf32>"},
      {"preprocess", "  %o = lopt.preprocess %p {p = 10.0 : f64} : (tensor<f32>) -> tensor<2xf32>"},
      {"lstm", "  %lw = lopt.constant dense<0.1> : tensor<8x4xf32>\n"
               "  %lb = lopt.constant dense<0.2> : tensor<8xf32>\n"
               "  %o, %c1 = lopt.lstm %s, %s, %s, %lw, %lb : (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>, tensor<8xf32>) -> (tensor<2xf32>, tensor<2xf32>)"},
  };
  for (const CellOp &op : ops) {
    SCOPED_TRACE(op.name);
    check({"map_cell_" + op.name,
           "%p: tensor<5xf32>, %s: tensor<5x2xf32>, %w: tensor<2xf32>, %b: tensor<f32>",
           "  %y = lopt.map_cell @cell_" + op.name + "(%p, %s, %w, %b) {coords = 5 : i64, mapped = array<i1: true, true, false, false>}"
           " : (tensor<5xf32>, tensor<5x2xf32>, tensor<2xf32>, tensor<f32>) -> tensor<5x2xf32>",
           "tensor<5x2xf32>"},
          "func.func @cell_" + op.name + "(%p: tensor<f32>, %s: tensor<2xf32>, %w: tensor<2xf32>, %b: tensor<f32>) -> tensor<2xf32> {\n" +
              op.body + "\n  return %o : tensor<2xf32>\n}\n");
  }
}

} // namespace

#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"
#include "interpreter/EpisodeRunner.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"

namespace {

/// The functions of a whole example episode, on random data: every result of
/// the learner gradient and of the meta-gradient.
class EpisodeTest : public ::testing::Test {
protected:
  void compare(const std::string &file, const std::string &fnName,
               bool binaryImages = false, double tolerance = 1e-4) {
    mlir::MLIRContext ctx;
    ctx.getOrLoadDialect<LoptDialect>();
    ctx.getOrLoadDialect<mlir::func::FuncDialect>();
    llvm::SourceMgr sm;
    auto ast = parseFile(std::string(LOPT_SOURCE_DIR) + "/" + file, sm);
    ASSERT_TRUE(ast);
    auto module = mlirGen(ctx, *ast, sm);
    ASSERT_TRUE(module);
    mlir::PassManager pm(&ctx);
    buildPipeline(pm, Stage::MetaGrad);
    ASSERT_TRUE(mlir::succeeded(pm.run(*module)));
    EpisodeFunctions fns;
    std::string error;
    ASSERT_TRUE(fns.find(*module, *module->getOps<EpisodeOp>().begin(), error));
    auto fn = module->lookupSymbol<mlir::func::FuncOp>(fnName);
    ASSERT_TRUE(fn);
    std::vector<RtValue<float>> args;
    EpisodeData data = syntheticEpisode(fns, 3);
    if (binaryImages) // like Omniglot: ink or paper, many exact ties
      for (Tensor<float> *t : {&data.supportX, &data.queryX})
        for (float &v : t->data)
          v = v > 0.8f ? 1.0f : 0.0f;
    NamedTensors meta = initialMetaParameters(fns, 4);
    if (fn == fns.support || (fn->getAttr(LoptDialect::kGradientOfAttr) &&
                              fn.getSymName().ends_with(".support.grad"))) {
      Rng rng(5);
      for (const OperandInfo &a : describeArguments(fn)) {
        if (a.role == role::kLabels) {
          Tensor<int32_t> l(a.shape);
          for (int64_t k = 0; k < l.numel(); ++k)
            l[k] = int32_t(k % fns.episode.getWays());
          args.emplace_back(l);
        } else if (a.role == role::kInput) {
          args.emplace_back(data.supportX);
        } else {
          args.emplace_back(sampleInit(a.init, a.shape, rng));
        }
      }
    } else {
      ASSERT_TRUE(episodeArguments<float>(fn, data, meta, args, error)) << error;
    }
    std::vector<RtValue<float>> want, got;
    ASSERT_TRUE(interpret<float>(fn, args, want, error)) << error;
    ASSERT_TRUE(executor().run(fn, args, got, error)) << error;
    std::vector<OperandInfo> info = describeResults(fn);
    for (size_t r = 0; r < want.size(); ++r) {
      const Tensor<float> &a = want[r].f, &b = got[r].f;
      double scale = 0, diff = 0;
      for (int64_t k = 0; k < a.numel(); ++k) {
        scale = std::max(scale, double(std::fabs(a[k])));
        diff = std::max(diff, double(std::fabs(a[k] - b[k])));
      }
      // A tensor that is zero up to rounding (the gradient of a conv bias
      // followed by batch norm) is compared absolutely.
      double err = scale < 1e-5 ? diff : diff / scale;
      EXPECT_LE(err, tolerance) << fnName << " result " << r << " ("
                                << info[r].role << " " << info[r].name
                                << ") differs by " << diff << " (scale "
                                << scale << ")";
    }
  }
};

TEST_F(EpisodeTest, OmniglotLearnerGradient) {
  compare("examples/omniglot/omniglot_5w1s.lopt", "omniglot_5w1s.support.grad");
}

} // namespace

namespace {
TEST_F(EpisodeTest, MomentumUnrolled) {
  compare("examples/cells/sgd_momentum.lopt", "omniglot_5w1s_momentum.unrolled",
          /*binaryImages=*/true);
}
} // namespace

namespace {
TEST_F(EpisodeTest, LearnerGradientOnBinaryImages) {
  compare("examples/omniglot/omniglot_5w1s.lopt", "omniglot_5w1s.support.grad",
          /*binaryImages=*/true);
}
} // namespace

namespace {
// The whole meta-gradient of a 12-step episode, forward and reverse. (This
// holds because both sides accumulate long sums, such as batch statistics
// and weight gradients, in double: with float sums the two evaluation
// orders drifted apart by up to 46% on real Omniglot episodes.)
TEST_F(EpisodeTest, MomentumMetaGradient) {
  compare("examples/cells/sgd_momentum.lopt", "omniglot_5w1s_momentum.meta_grad",
          /*binaryImages=*/true);
}
} // namespace
