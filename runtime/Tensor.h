//===- Tensor.h - dense row-major host tensor -------------------*- C++ -*-===//
//
// The one buffer type shared by the runtime (datasets, episodes) and the
// reference interpreter. Deliberately plain: a shape and a contiguous
// row-major vector. No MLIR, no LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_TENSOR_H
#define LOPT_RUNTIME_TENSOR_H

#include <cassert>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace lopt {

using Shape = std::vector<int64_t>;

inline int64_t numElements(const Shape &shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t(1),
                         [](int64_t a, int64_t b) { return a * b; });
}

/// Renders a shape as "[a, b, c]" for messages.
inline std::string shapeToString(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

template <typename T> struct Tensor {
  Shape shape;
  std::vector<T> data;

  Tensor() = default;
  explicit Tensor(Shape s, T fill = T(0))
      : shape(std::move(s)), data(numElements(shape), fill) {}
  Tensor(Shape s, std::vector<T> values)
      : shape(std::move(s)), data(std::move(values)) {
    assert(int64_t(data.size()) == numElements(shape) && "size mismatch");
  }

  int64_t numel() const { return int64_t(data.size()); }
  int64_t rank() const { return int64_t(shape.size()); }
  int64_t dim(int64_t i) const { return shape[i]; }

  T &operator[](int64_t i) { return data[i]; }
  const T &operator[](int64_t i) const { return data[i]; }

  /// Row-major element access with one index per dimension.
  template <typename... Idx> T &at(Idx... idx) {
    return data[offset({int64_t(idx)...})];
  }
  template <typename... Idx> const T &at(Idx... idx) const {
    return data[offset({int64_t(idx)...})];
  }

  int64_t offset(std::initializer_list<int64_t> idx) const {
    assert(idx.size() == shape.size() && "rank mismatch");
    int64_t off = 0, d = 0;
    for (int64_t i : idx) {
      assert(i >= 0 && i < shape[d] && "index out of range");
      off = off * shape[d++] + i;
    }
    return off;
  }

  /// Element-wise conversion to another element type (float <-> double).
  template <typename U> Tensor<U> cast() const {
    return Tensor<U>(shape, std::vector<U>(data.begin(), data.end()));
  }
};

} // namespace lopt

#endif // LOPT_RUNTIME_TENSOR_H
