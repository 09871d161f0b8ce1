//===- ShapeRules.cpp - result shapes of lopt ops -------------------------===//
#include "dialect/ShapeRules.h"

namespace lopt::shape {
namespace {
std::string str(const Shape &s) { return shapeToString(s); }
} // namespace

Result conv2d(const Shape &x, const Shape &w, const Shape &b, int64_t stride,
              int64_t pad) {
  if (x.size() != 4)
    return Result::fail("conv2d expects a [batch, channels, height, width] "
                        "input, got " + str(x));
  if (w.size() != 4 || w[1] != x[1])
    return Result::fail("conv2d weight must be [filters, " +
                        std::to_string(x[1]) + ", kh, kw], got " + str(w));
  if (b.size() != 1 || b[0] != w[0])
    return Result::fail("conv2d bias must be [" + std::to_string(w[0]) +
                        "], got " + str(b));
  if (stride < 1)
    return Result::fail("conv2d stride must be at least 1, got " +
                        std::to_string(stride));
  if (pad < 0)
    return Result::fail("conv2d padding must not be negative, got " +
                        std::to_string(pad));
  int64_t h = x[2] + 2 * pad - w[2], wd = x[3] + 2 * pad - w[3];
  if (h < 0 || wd < 0)
    return Result::fail("conv2d kernel " + std::to_string(w[2]) + "x" +
                        std::to_string(w[3]) + " does not fit the padded " +
                        std::to_string(x[2] + 2 * pad) + "x" +
                        std::to_string(x[3] + 2 * pad) + " input");
  return {{x[0], w[0], h / stride + 1, wd / stride + 1}, ""};
}

Result batchnorm(const Shape &x, const Shape &gamma, const Shape &beta,
                 const Shape &mean, const Shape &var) {
  if (x.size() != 4 && x.size() != 2)
    return Result::fail("batchnorm expects a [batch, channels, height, width] "
                        "or [batch, features] input, got " + str(x));
  Shape c{x[1]};
  for (const Shape *s : {&gamma, &beta, &mean, &var})
    if (*s != c)
      return Result::fail("batchnorm scale, shift and statistics must be " +
                          str(c) + ", got " + str(*s));
  return {x, ""};
}

Result maxpool(const Shape &x, int64_t kernel, int64_t stride) {
  if (x.size() != 4)
    return Result::fail("maxpool expects a [batch, channels, height, width] "
                        "input, got " + str(x));
  if (kernel < 1 || stride < 1)
    return Result::fail("maxpool kernel and stride must be at least 1");
  if (x[2] < kernel || x[3] < kernel)
    return Result::fail("maxpool window " + std::to_string(kernel) +
                        " is larger than the " + std::to_string(x[2]) + "x" +
                        std::to_string(x[3]) + " input");
  return {{x[0], x[1], (x[2] - kernel) / stride + 1,
           (x[3] - kernel) / stride + 1},
          ""};
}

Result flatten(const Shape &x) {
  if (x.empty())
    return Result::fail("flatten expects a batched input, got a scalar");
  Shape rest(x.begin() + 1, x.end());
  return {{x[0], numElements(rest)}, ""};
}

Result linear(const Shape &x, const Shape &w, const Shape &b) {
  if (x.size() != 2)
    return Result::fail("linear expects a [batch, features] input, got " +
                        str(x) + " (add 'flatten' before it)");
  if (w.size() != 2 || w[1] != x[1])
    return Result::fail("linear weight must be [out, " + std::to_string(x[1]) +
                        "], got " + str(w));
  if (b.size() != 1 || b[0] != w[0])
    return Result::fail("linear bias must be [" + std::to_string(w[0]) +
                        "], got " + str(b));
  return {{x[0], w[0]}, ""};
}

Result crossEntropy(const Shape &logits, const Shape &labels) {
  if (logits.size() != 2)
    return Result::fail("cross_entropy expects [batch, classes] logits, got " +
                        str(logits));
  if (labels.size() != 1 || labels[0] != logits[0])
    return Result::fail("cross_entropy labels must be [" +
                        std::to_string(logits[0]) + "], got " + str(labels));
  return {{}, ""};
}

Result preprocess(const Shape &x) {
  if (x.size() > 1)
    return Result::fail("preprocess expects a scalar or a vector, got " +
                        str(x));
  return {{2 * numElements(x)}, ""};
}

Result concat(const std::vector<Shape> &parts) {
  if (parts.empty())
    return Result::fail("concat needs at least one operand");
  int64_t n = 0;
  for (const Shape &p : parts) {
    if (p.size() > 1)
      return Result::fail("concat takes scalars and vectors, got " + str(p));
    n += numElements(p);
  }
  return {{n}, ""};
}

Result lstm(const Shape &x, const Shape &h, const Shape &c, const Shape &w,
            const Shape &b) {
  if (x.size() > 1)
    return Result::fail("lstm input must be a scalar or a vector, got " +
                        str(x));
  if (h.size() != 1 || c != h)
    return Result::fail("lstm hidden and cell states must be vectors of the "
                        "same size, got " + str(h) + " and " + str(c));
  int64_t in = numElements(x), hid = h[0];
  if (w != Shape{4 * hid, in + hid})
    return Result::fail("lstm weight must be " +
                        str({4 * hid, in + hid}) + ", got " + str(w));
  if (b != Shape{4 * hid})
    return Result::fail("lstm bias must be " + str({4 * hid}) + ", got " +
                        str(b));
  return {h, ""};
}

Result affine(const Shape &x, const Shape &w, const Shape &b) {
  if (x.size() > 1)
    return Result::fail("affine input must be a scalar or a vector, got " +
                        str(x));
  int64_t in = numElements(x);
  if (w == Shape{in} && b.empty())
    return {{}, ""};
  if (w.size() == 2 && w[1] == in && b == Shape{w[0]})
    return {{w[0]}, ""};
  return Result::fail("affine over " + std::to_string(in) +
                      " inputs needs weight [out, " + std::to_string(in) +
                      "] with bias [out], or weight [" + std::to_string(in) +
                      "] with a scalar bias; got " + str(w) + " and " + str(b));
}

Result broadcast(const Shape &a, const Shape &b) {
  if (a == b || b.empty())
    return {a, ""};
  if (a.empty())
    return {b, ""};
  return Result::fail("elementwise operands must have the same shape or one "
                      "must be a scalar, got " + str(a) + " and " + str(b));
}

} // namespace lopt::shape
