//===- OpCases.h - one small function per lopt op, for tests ----*- C++ -*-===//
//
// Each case defines %y from random arguments with one op (or a few), so a
// test can differentiate it (VJPTest) or compile it (ExecutorTest).
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_TESTS_UNIT_PASSES_OPCASES_H
#define LOPT_TESTS_UNIT_PASSES_OPCASES_H

#include "interpreter/Interpreter.h"
#include "passes/Autodiff.h"
#include "runtime/Random.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace lopt::testing {

/// Value ranges for random inputs.
enum class Range { Signed, Positive, Distinct };

struct Case {
  std::string name;
  std::string args;  // "%x: tensor<...>, ..." (i32 tensors are labels)
  std::string body;  // defines %y
  std::string yType; // the type of %y
  Range range = Range::Signed;
  /// Only the first `diffArgs` float arguments are differentiated (batch
  /// norm's running statistics are buffers without adjoints); -1: all.
  int diffArgs = -1;
};

inline std::string reduceAll(const std::string &type) {
  // Rank of a tensor type written tensor<AxBxf32> or tensor<f32>.
  size_t rank = std::count(type.begin(), type.end(), 'x');
  std::string dims;
  for (size_t i = 0; i < rank; ++i)
    dims += (i ? ", " : "") + std::to_string(i);
  return "lopt.reduce_sum %vjp_p {dims = array<i64" + (rank ? ": " + dims : "") +
         ">} : (" + type + ") -> tensor<f32>";
}


inline std::vector<Case> cases() {
  auto unary = [](const std::string &op, Range r = Range::Signed) {
    return Case{op, "%x: tensor<3x2xf32>",
                "  %y = lopt." + op + " %x : tensor<3x2xf32>", "tensor<3x2xf32>", r};
  };
  auto binary = [](const std::string &op, Range r = Range::Signed) {
    return Case{op, "%a: tensor<4xf32>, %b: tensor<4xf32>",
                "  %y = lopt." + op + " %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>",
                "tensor<4xf32>", r};
  };
  auto scalarBroadcast = [](const std::string &op, Range r = Range::Signed) {
    return Case{op + "_scalar", "%a: tensor<f32>, %b: tensor<4xf32>",
                "  %y = lopt." + op + " %a, %b : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>",
                "tensor<4xf32>", r};
  };
  std::vector<Case> c;
  for (const char *op : {"neg", "sigmoid", "tanh", "exp", "relu", "square", "abs", "sign", "step"})
    c.push_back(unary(op));
  for (const char *op : {"log", "sqrt"})
    c.push_back(unary(op, Range::Positive));
  for (const char *op : {"add", "sub", "mul", "min", "max"}) {
    c.push_back(binary(op));
    c.push_back(scalarBroadcast(op));
  }
  for (const char *op : {"div", "pow"}) {
    c.push_back(binary(op, Range::Positive));
    c.push_back(scalarBroadcast(op, Range::Positive));
  }
  c.push_back({"conv2d_s1p1", "%x: tensor<2x2x5x5xf32>, %w: tensor<3x2x3x3xf32>, %b: tensor<3xf32>",
               "  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x2x5x5xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<2x3x5x5xf32>",
               "tensor<2x3x5x5xf32>"});
  c.push_back({"conv2d_s2p0", "%x: tensor<2x2x6x5xf32>, %w: tensor<3x2x2x3xf32>, %b: tensor<3xf32>",
               "  %y = lopt.conv2d %x, %w, %b {pad = 0 : i64, stride = 2 : i64} : (tensor<2x2x6x5xf32>, tensor<3x2x2x3xf32>, tensor<3xf32>) -> tensor<2x3x3x2xf32>",
               "tensor<2x3x3x2xf32>"});
  c.push_back({"conv2d_backward_data", "%dy: tensor<2x3x5x5xf32>, %w: tensor<3x2x3x3xf32>",
               "  %y = lopt.conv2d_backward_data %dy, %w {pad = 1 : i64, stride = 1 : i64} : (tensor<2x3x5x5xf32>, tensor<3x2x3x3xf32>) -> tensor<2x2x5x5xf32>",
               "tensor<2x2x5x5xf32>"});
  c.push_back({"conv2d_backward_filter", "%x: tensor<2x2x6x5xf32>, %dy: tensor<2x3x3x2xf32>",
               "  %y = lopt.conv2d_backward_filter %x, %dy {pad = 0 : i64, stride = 2 : i64} : (tensor<2x2x6x5xf32>, tensor<2x3x3x2xf32>) -> tensor<3x2x2x3xf32>",
               "tensor<3x2x2x3xf32>"});
  const char *bn = "  %y, %m1, %v1, %mu1, %inv1 = lopt.batchnorm %x, %g, %b, %m, %v {eps = 1.0e-3 : f64, momentum = 0.9 : f64, mode = \"MODE\"} : (XT, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (XT, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>)";
  auto bnCase = [&](const std::string &name, const std::string &mode, const std::string &xt) {
    std::string body = bn;
    body.replace(body.find("MODE"), 4, mode);
    for (size_t p; (p = body.find("XT")) != std::string::npos;)
      body.replace(p, 2, xt);
    return Case{name, "%x: " + xt + ", %g: tensor<3xf32>, %b: tensor<3xf32>, %m: tensor<3xf32>, %v: tensor<3xf32>",
                body, xt, Range::Positive, /*diffArgs=*/3};
  };
  c.push_back(bnCase("batchnorm_train_4d", "train", "tensor<2x3x2x2xf32>"));
  c.push_back(bnCase("batchnorm_train_2d", "train", "tensor<4x3xf32>"));
  c.push_back(bnCase("batchnorm_eval", "eval", "tensor<2x3x2x2xf32>"));
  // The statistics it normalised with (read by its backward, so a second
  // derivative reaches them): %y = mean * inv_std weighs the two apart.
  Case stats = bnCase("batchnorm_statistics", "train", "tensor<2x3x2x2xf32>");
  stats.body.replace(stats.body.find("%y,"), 3, "%n,");
  stats.body += "\n  %y = lopt.mul %mu1, %inv1 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>";
  stats.yType = "tensor<3xf32>";
  c.push_back(stats);
  c.push_back({"maxpool", "%x: tensor<2x2x5x4xf32>",
               "  %y = lopt.maxpool %x {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x2x5x4xf32>) -> tensor<2x2x2x2xf32>",
               "tensor<2x2x2x2xf32>", Range::Distinct});
  c.push_back({"maxpool_backward", "%x: tensor<1x2x4x4xf32>, %dy: tensor<1x2x2x2xf32>",
               "  %y = lopt.maxpool_backward %x, %dy {kernel = 2 : i64, stride = 2 : i64} : (tensor<1x2x4x4xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x4x4xf32>",
               "tensor<1x2x4x4xf32>", Range::Distinct});
  c.push_back({"maxpool_gather", "%x: tensor<1x2x4x4xf32>, %g: tensor<1x2x4x4xf32>",
               "  %y = lopt.maxpool_gather %x, %g {kernel = 3 : i64, stride = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32>",
               "tensor<1x2x2x2xf32>", Range::Distinct});
  c.push_back({"flatten", "%x: tensor<2x2x3xf32>",
               "  %y = lopt.flatten %x : (tensor<2x2x3xf32>) -> tensor<2x6xf32>", "tensor<2x6xf32>"});
  c.push_back({"reshape", "%x: tensor<2x6xf32>",
               "  %y = lopt.reshape %x : (tensor<2x6xf32>) -> tensor<3x4xf32>", "tensor<3x4xf32>"});
  c.push_back({"linear", "%x: tensor<3x4xf32>, %w: tensor<2x4xf32>, %b: tensor<2xf32>",
               "  %y = lopt.linear %x, %w, %b : (tensor<3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<3x2xf32>",
               "tensor<3x2xf32>"});
  for (auto [ta, tb] : {std::pair{false, false}, {false, true}, {true, false}, {true, true}}) {
    std::string at = ta ? "tensor<4x3xf32>" : "tensor<3x4xf32>";
    std::string bt = tb ? "tensor<2x4xf32>" : "tensor<4x2xf32>";
    c.push_back({std::string("matmul_") + (ta ? "t" : "n") + (tb ? "t" : "n"),
                 "%a: " + at + ", %b: " + bt,
                 std::string("  %y = lopt.matmul %a, %b {transpose_a = ") + (ta ? "true" : "false") +
                     ", transpose_b = " + (tb ? "true" : "false") + "} : (" + at + ", " + bt +
                     ") -> tensor<3x2xf32>",
                 "tensor<3x2xf32>"});
  }
  c.push_back({"cross_entropy", "%z: tensor<4x3xf32>, %l: tensor<4xi32>",
               "  %y = lopt.cross_entropy %z, %l : (tensor<4x3xf32>, tensor<4xi32>) -> tensor<f32>",
               "tensor<f32>"});
  c.push_back({"logsumexp", "%x: tensor<3x4xf32>",
               "  %y = lopt.logsumexp %x : (tensor<3x4xf32>) -> tensor<3xf32>", "tensor<3xf32>"});
  c.push_back({"reduce_sum", "%x: tensor<2x3x4xf32>",
               "  %y = lopt.reduce_sum %x {dims = array<i64: 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3xf32>",
               "tensor<3xf32>"});
  c.push_back({"broadcast", "%x: tensor<3xf32>",
               "  %y = lopt.broadcast %x {dims = array<i64: 1>} : (tensor<3xf32>) -> tensor<2x3x2xf32>",
               "tensor<2x3x2xf32>"});
  c.push_back({"slice", "%x: tensor<5x3xf32>",
               "  %y = lopt.slice %x {offsets = array<i64: 1, 1>} : (tensor<5x3xf32>) -> tensor<3x2xf32>",
               "tensor<3x2xf32>"});
  c.push_back({"unslice", "%g: tensor<3x2xf32>",
               "  %y = lopt.unslice %g {offsets = array<i64: 2, 0>} : (tensor<3x2xf32>) -> tensor<5x3xf32>",
               "tensor<5x3xf32>"});
  c.push_back({"preprocess", "%x: tensor<3xf32>",
               "  %y = lopt.preprocess %x {p = 2.0 : f64} : (tensor<3xf32>) -> tensor<6xf32>",
               "tensor<6xf32>", Range::Positive});
  c.push_back({"preprocess_small", "%x: tensor<f32>",
               "  %s = lopt.constant dense<0.01> : tensor<f32>\n"
               "  %xs = lopt.mul %x, %s : (tensor<f32>, tensor<f32>) -> tensor<f32>\n"
               "  %y = lopt.preprocess %xs {p = 10.0 : f64} : (tensor<f32>) -> tensor<2xf32>",
               "tensor<2xf32>"});
  c.push_back({"concat", "%a: tensor<f32>, %b: tensor<3xf32>, %c: tensor<f32>",
               "  %y = lopt.concat %a, %b, %c : (tensor<f32>, tensor<3xf32>, tensor<f32>) -> tensor<5xf32>",
               "tensor<5xf32>"});
  c.push_back({"lstm", "%x: tensor<2xf32>, %h: tensor<3xf32>, %c: tensor<3xf32>, %w: tensor<12x5xf32>, %b: tensor<12xf32>",
               "  %y, %c1 = lopt.lstm %x, %h, %c, %w, %b : (tensor<2xf32>, tensor<3xf32>, tensor<3xf32>, tensor<12x5xf32>, tensor<12xf32>) -> (tensor<3xf32>, tensor<3xf32>)",
               "tensor<3xf32>"});
  c.push_back({"lstm_cell_state", "%x: tensor<f32>, %h: tensor<2xf32>, %c: tensor<2xf32>, %w: tensor<8x3xf32>, %b: tensor<8xf32>",
               "  %h1, %y = lopt.lstm %x, %h, %c, %w, %b : (tensor<f32>, tensor<2xf32>, tensor<2xf32>, tensor<8x3xf32>, tensor<8xf32>) -> (tensor<2xf32>, tensor<2xf32>)",
               "tensor<2xf32>"});
  c.push_back({"affine_vector", "%x: tensor<4xf32>, %w: tensor<2x4xf32>, %b: tensor<2xf32>",
               "  %y = lopt.affine %x, %w, %b : (tensor<4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<2xf32>",
               "tensor<2xf32>"});
  c.push_back({"affine_scalar", "%x: tensor<4xf32>, %w: tensor<4xf32>, %b: tensor<f32>",
               "  %y = lopt.affine %x, %w, %b : (tensor<4xf32>, tensor<4xf32>, tensor<f32>) -> tensor<f32>",
               "tensor<f32>"});
  return c;
}


/// The module text of a case: @f(args..., %G) = sum(G * y), then `extra`
/// (functions the case calls).
inline std::string caseModule(const Case &c, const std::string &extra = "") {
  return "func.func @f(" + c.args + ", %G: " + c.yType +
         ") -> tensor<f32> {\n" + c.body + "\n  %vjp_p = lopt.mul %y, %G : (" +
         c.yType + ", " + c.yType + ") -> " + c.yType + "\n  %vjp_s = " +
         reduceAll(c.yType) + "\n  return %vjp_s : tensor<f32>\n}\n" + extra;
}

/// Differentiate @f w.r.t. its float arguments but the last (G), the first
/// `diffArgs` of them when that is not -1.
inline GradientSpec caseSpec(mlir::func::FuncOp fn, int diffArgs) {
  GradientSpec spec;
  spec.seeds = {0};
  for (unsigned i = 0; i + 1 < fn.getNumArguments(); ++i)
    if (llvm::isa<mlir::FloatType>(
            llvm::cast<mlir::RankedTensorType>(fn.getArgumentTypes()[i])
                .getElementType()) &&
        (diffArgs < 0 || int(spec.wrt.size()) < diffArgs))
      spec.wrt.push_back(i);
  return spec;
}

/// Random arguments of the given types: labels 0, 1, 2, 0, ...; floats in
/// the case's range (Distinct: well-separated values in random order, so
/// that max-pooling has no ties).
template <typename T>
std::vector<RtValue<T>> randomArgs(mlir::TypeRange types, Range range,
                                   uint64_t seed) {
  Rng rng(seed);
  std::vector<RtValue<T>> args;
  for (mlir::Type type : types) {
    auto t = llvm::cast<mlir::RankedTensorType>(type);
    Shape s(t.getShape().begin(), t.getShape().end());
    if (!llvm::isa<mlir::FloatType>(t.getElementType())) {
      Tensor<int32_t> labels(s);
      for (int64_t k = 0; k < labels.numel(); ++k)
        labels[k] = int32_t(k % 3);
      args.emplace_back(labels);
      continue;
    }
    Tensor<T> v(s);
    for (int64_t k = 0; k < v.numel(); ++k) {
      switch (range) {
      case Range::Signed: v[k] = T(rng.uniform(-1, 1)); break;
      case Range::Positive: v[k] = T(rng.uniform(0.5, 1.5)); break;
      case Range::Distinct: v[k] = T(0.1 * double(k) + rng.uniform(0, 0.05)); break;
      }
    }
    if (range == Range::Distinct)
      for (int64_t k = v.numel() - 1; k > 0; --k)
        std::swap(v[k], v[int64_t(rng.below(uint64_t(k + 1)))]);
    args.emplace_back(v);
  }
  return args;
}

/// Test names show the case's name, not its bytes.
inline void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

} // namespace lopt::testing

#endif // LOPT_TESTS_UNIT_PASSES_OPCASES_H
