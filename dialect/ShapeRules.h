//===- ShapeRules.h - result shapes of lopt ops -----------------*- C++ -*-===//
//
// One function per op computing its result shape from operand shapes, or an
// error message saying what was expected. Op verifiers and the front end
// both call these, so a description is rejected with a source location for
// exactly what the verifier would reject later. No MLIR types in here.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_DIALECT_SHAPERULES_H
#define LOPT_DIALECT_SHAPERULES_H

#include "runtime/Tensor.h"

#include <string>
#include <vector>

namespace lopt::shape {

/// A result shape, or (when `error` is non-empty) why there is none.
struct Result {
  Shape shape;
  std::string error;
  bool ok() const { return error.empty(); }
  static Result fail(std::string msg) { return {{}, std::move(msg)}; }
};

Result conv2d(const Shape &x, const Shape &w, const Shape &b, int64_t stride,
              int64_t pad);
/// Checks a batch-norm operand set; the result has the shape of `x`.
Result batchnorm(const Shape &x, const Shape &gamma, const Shape &beta,
                 const Shape &mean, const Shape &var);
Result maxpool(const Shape &x, int64_t kernel, int64_t stride);
Result flatten(const Shape &x);
Result linear(const Shape &x, const Shape &w, const Shape &b);
Result crossEntropy(const Shape &logits, const Shape &labels);
Result preprocess(const Shape &x);
Result concat(const std::vector<Shape> &parts);
/// Result shape of h' (and c').
Result lstm(const Shape &x, const Shape &h, const Shape &c, const Shape &w,
            const Shape &b);
Result affine(const Shape &x, const Shape &w, const Shape &b);
/// Elementwise binary: equal shapes, or one side rank 0.
Result broadcast(const Shape &a, const Shape &b);

} // namespace lopt::shape

#endif // LOPT_DIALECT_SHAPERULES_H
