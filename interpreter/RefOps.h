//===- RefOps.h - reference (oracle) implementations of lopt ops -*- C++ -*-===//
//
// The numeric oracle every compiled kernel is compared against. Favours
// obviousness over speed: plain nested loops over row-major data, no
// vectorisation, no tricks. Short accumulations are done in T (float or
// double); long ones (sums over a whole tensor or channel: sum, reduceSum,
// batch statistics, the conv weight gradient) in double, because float32
// episodes are sensitive enough to them that a float oracle was measurably
// wrong (docs/codegen.md).
//
// Conventions:
//  * All tensors are lopt::Tensor<T> (row-major). Rank-0 tensors have shape {}
//    and exactly one element.
//  * Callers have already verified shapes; preconditions are only assert()ed.
//    No exceptions are thrown (the project builds with -fno-exceptions).
//  * This namespace defines functions named exp, log, abs, sqrt, tanh, min,
//    max, pow, div, ...; inside it, scalar maths is always spelled std::xxx.
//  * Header-only, no MLIR/LLVM dependency.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_INTERPRETER_REFOPS_H
#define LOPT_INTERPRETER_REFOPS_H

#include "runtime/Tensor.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace lopt::ref {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Rank-0 tensor (shape {}) holding the single value v.
template <class T> Tensor<T> scalar(T v) { return Tensor<T>(Shape{}, v); }

/// Scalar logistic sigmoid 1/(1+exp(-v)), evaluated as 1/(1+exp(-v)) for v>=0
/// and exp(v)/(1+exp(v)) for v<0 so that it never overflows (finite for all
/// finite v).
template <class T> T sigmoidScalar(T v) {
  if (v >= T(0))
    return T(1) / (T(1) + std::exp(-v));
  T e = std::exp(v);
  return e / (T(1) + e);
}

/// Scalar sign: +1 for v>0, -1 for v<0, 0 for v==0 (and for NaN).
template <class T> T signScalar(T v) {
  return v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0));
}

//===----------------------------------------------------------------------===//
// Generic elementwise
//===----------------------------------------------------------------------===//

/// y[i] = f(x[i]) for every element; y has x's shape.
template <class T, class F> Tensor<T> map(const Tensor<T> &x, F f) {
  Tensor<T> y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i)
    y[i] = f(x[i]);
  return y;
}

/// y[i] = f(a[i], b[i]); shapes equal, or one side rank 0 (that value is
/// broadcast to every element of the other side; result takes its shape).
template <class T, class F>
Tensor<T> zip(const Tensor<T> &a, const Tensor<T> &b, F f) {
  if (a.rank() == 0 && b.rank() != 0) {
    assert(a.numel() == 1 && "rank-0 tensor must hold one element");
    Tensor<T> y(b.shape);
    for (int64_t i = 0; i < b.numel(); ++i)
      y[i] = f(a[0], b[i]);
    return y;
  }
  if (b.rank() == 0 && a.rank() != 0) {
    assert(b.numel() == 1 && "rank-0 tensor must hold one element");
    Tensor<T> y(a.shape);
    for (int64_t i = 0; i < a.numel(); ++i)
      y[i] = f(a[i], b[0]);
    return y;
  }
  assert(a.shape == b.shape && "zip: shapes must match or one side rank 0");
  Tensor<T> y(a.shape);
  for (int64_t i = 0; i < a.numel(); ++i)
    y[i] = f(a[i], b[i]);
  return y;
}

//===----------------------------------------------------------------------===//
// Elementwise unary
//===----------------------------------------------------------------------===//

/// y = 1/(1+exp(-x)) elementwise, overflow-free (see sigmoidScalar).
template <class T> Tensor<T> sigmoid(const Tensor<T> &x) {
  return map(x, [](T v) { return sigmoidScalar(v); });
}
/// y = tanh(x) elementwise.
template <class T> Tensor<T> tanh(const Tensor<T> &x) {
  return map(x, [](T v) { return std::tanh(v); });
}
/// y = exp(x) elementwise.
template <class T> Tensor<T> exp(const Tensor<T> &x) {
  return map(x, [](T v) { return std::exp(v); });
}
/// y = log(x) elementwise (natural log; log(0) = -inf, log(<0) = NaN).
template <class T> Tensor<T> log(const Tensor<T> &x) {
  return map(x, [](T v) { return std::log(v); });
}
/// y = |x| elementwise.
template <class T> Tensor<T> abs(const Tensor<T> &x) {
  return map(x, [](T v) { return std::fabs(v); });
}
/// y = sqrt(x) elementwise.
template <class T> Tensor<T> sqrt(const Tensor<T> &x) {
  return map(x, [](T v) { return std::sqrt(v); });
}
/// y = -x elementwise.
template <class T> Tensor<T> neg(const Tensor<T> &x) {
  return map(x, [](T v) { return -v; });
}
/// y = sign(x) elementwise: +1 / -1 / 0 (sign(0) = 0).
template <class T> Tensor<T> sign(const Tensor<T> &x) {
  return map(x, [](T v) { return signScalar(v); });
}
/// y = max(x, 0) elementwise, computed as (x < 0 ? 0 : x) (NaN propagates).
template <class T> Tensor<T> relu(const Tensor<T> &x) {
  return map(x, [](T v) { return v < T(0) ? T(0) : v; });
}
/// y = x*x elementwise.
template <class T> Tensor<T> square(const Tensor<T> &x) {
  return map(x, [](T v) { return v * v; });
}

//===----------------------------------------------------------------------===//
// Elementwise binary (shapes equal, or one side rank 0 = scalar broadcast)
//===----------------------------------------------------------------------===//

/// y = a + b.
template <class T> Tensor<T> add(const Tensor<T> &a, const Tensor<T> &b) {
  return zip(a, b, [](T u, T v) { return u + v; });
}
/// y = a - b.
template <class T> Tensor<T> sub(const Tensor<T> &a, const Tensor<T> &b) {
  return zip(a, b, [](T u, T v) { return u - v; });
}
/// y = a * b.
template <class T> Tensor<T> mul(const Tensor<T> &a, const Tensor<T> &b) {
  return zip(a, b, [](T u, T v) { return u * v; });
}
/// y = a / b (IEEE: x/0 = +-inf or NaN).
template <class T> Tensor<T> div(const Tensor<T> &a, const Tensor<T> &b) {
  return zip(a, b, [](T u, T v) { return u / v; });
}
/// y = min(a, b) computed as (b < a ? b : a) (std::min semantics).
template <class T> Tensor<T> min(const Tensor<T> &a, const Tensor<T> &b) {
  return zip(a, b, [](T u, T v) { return v < u ? v : u; });
}
/// y = max(a, b) computed as (a < b ? b : a) (std::max semantics).
template <class T> Tensor<T> max(const Tensor<T> &a, const Tensor<T> &b) {
  return zip(a, b, [](T u, T v) { return u < v ? v : u; });
}
/// y = a ^ b via std::pow.
template <class T> Tensor<T> pow(const Tensor<T> &a, const Tensor<T> &b) {
  return zip(a, b, [](T u, T v) { return std::pow(u, v); });
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

/// Rank-0 tensor = sum of all elements of x (sequential, row-major order,
/// accumulated in double; sum of an empty tensor is 0).
template <class T> Tensor<T> sum(const Tensor<T> &x) {
  double acc = 0;
  for (int64_t i = 0; i < x.numel(); ++i)
    acc += double(x[i]);
  return scalar(T(acc));
}

/// Rank-0 tensor = sum(x) / numel(x) (x must be non-empty).
template <class T> Tensor<T> mean(const Tensor<T> &x) {
  assert(x.numel() > 0 && "mean of an empty tensor");
  return scalar(sum(x)[0] / T(x.numel()));
}

//===----------------------------------------------------------------------===//
// Learner (base network) ops
//===----------------------------------------------------------------------===//

/// Output positions i in [0, OL) whose input position i*s+k-p falls inside
/// [0, L): the half-open range [lo, hi). Everything outside it reads the zero
/// padding, so the convolution loops below skip it instead of testing every
/// tap.
inline void convValidRange(int64_t L, int64_t OL, int64_t k, int64_t s,
                           int64_t p, int64_t &lo, int64_t &hi) {
  lo = p - k > 0 ? (p - k + s - 1) / s : 0;
  hi = L - 1 + p - k >= 0 ? (L - 1 + p - k) / s + 1 : 0;
  hi = std::min(hi, OL);
  lo = std::min(lo, hi);
}

/// x [N,C,H,W], w [O,C,KH,KW], b [O] -> y [N,O,OH,OW] with
/// OH = (H+2p-KH)/s+1, OW = (W+2p-KW)/s+1 (integer division), zero padding p,
/// cross-correlation (PyTorch conv2d):
/// y[n,o,i,j] = b[o] + sum_{c,ki,kj} x[n,c,i*s+ki-p,j*s+kj-p] * w[o,c,ki,kj]
/// where out-of-range x reads are 0.
template <class T>
Tensor<T> conv2d(const Tensor<T> &x, const Tensor<T> &w, const Tensor<T> &b,
                 int64_t stride, int64_t pad) {
  assert(x.rank() == 4 && w.rank() == 4 && b.rank() == 1);
  assert(stride >= 1 && pad >= 0);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t O = w.dim(0), KH = w.dim(2), KW = w.dim(3);
  assert(w.dim(1) == C && b.dim(0) == O);
  assert(H + 2 * pad >= KH && W + 2 * pad >= KW);
  const int64_t OH = (H + 2 * pad - KH) / stride + 1;
  const int64_t OW = (W + 2 * pad - KW) / stride + 1;
  Tensor<T> y({N, O, OH, OW});
  // Each output starts at its bias and accumulates the taps in (c, ki, kj)
  // order; the loops run over whole rows so that the inner loop is a
  // contiguous multiply-add.
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      T *yp = &y.data[(n * O + o) * OH * OW];
      std::fill(yp, yp + OH * OW, b[o]);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t ki = 0; ki < KH; ++ki) {
          int64_t ilo, ihi;
          convValidRange(H, OH, ki, stride, pad, ilo, ihi);
          for (int64_t kj = 0; kj < KW; ++kj) {
            int64_t jlo, jhi;
            convValidRange(W, OW, kj, stride, pad, jlo, jhi);
            const T wv = w.data[((o * C + c) * KH + ki) * KW + kj];
            for (int64_t i = ilo; i < ihi; ++i) {
              const T *xr = &x.data[((n * C + c) * H + i * stride + ki - pad) * W];
              T *yr = yp + i * OW;
              for (int64_t j = jlo; j < jhi; ++j)
                yr[j] += wv * xr[j * stride + kj - pad];
            }
          }
        }
    }
  return y;
}

/// Per-channel batch statistics of x (channel dim 1, reduce over all other
/// dims; x is [N,C] or [N,C,H,W] or generally [N,C,...]):
/// mean[c] = (1/M) sum x[.,c,.], var[c] = (1/M) sum (x[.,c,.]-mean[c])^2
/// (BIASED, two-pass), M = numel(x)/C. Also returns M.
template <class T>
int64_t batchStats(const Tensor<T> &x, std::vector<T> &mean,
                   std::vector<T> &var) {
  assert(x.rank() >= 2);
  const int64_t N = x.dim(0), C = x.dim(1);
  const int64_t S = numElements(Shape(x.shape.begin() + 2, x.shape.end()));
  const int64_t M = N * S;
  assert(M > 0);
  mean.assign(C, T(0));
  var.assign(C, T(0));
  // Long sums (all of a channel) accumulate in double: float32 episodes
  // are sensitive enough to these statistics that the oracle must not add
  // its own rounding.
  for (int64_t c = 0; c < C; ++c) {
    double acc = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s)
        acc += double(x[(n * C + c) * S + s]);
    const double m = acc / double(M);
    mean[c] = T(m);
    double acc2 = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const double d = double(x[(n * C + c) * S + s]) - m;
        acc2 += d * d;
      }
    var[c] = T(acc2 / double(M));
  }
  return M;
}

/// y[.,c,.] = gamma[c]*(x[.,c,.]-mean[c])/sqrt(var[c]+eps) + beta[c] for x
/// [N,C,...]; shared by the train and eval batch norms.
template <class T>
Tensor<T> batchnormApply(const Tensor<T> &x, const Tensor<T> &gamma,
                         const Tensor<T> &beta, T eps,
                         const std::vector<T> &mean,
                         const std::vector<T> &var) {
  assert(x.rank() >= 2);
  const int64_t N = x.dim(0), C = x.dim(1);
  const int64_t S = numElements(Shape(x.shape.begin() + 2, x.shape.end()));
  assert(gamma.rank() == 1 && gamma.dim(0) == C);
  assert(beta.rank() == 1 && beta.dim(0) == C);
  assert(int64_t(mean.size()) == C && int64_t(var.size()) == C);
  Tensor<T> y(x.shape);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T invStd = T(1) / std::sqrt(var[c] + eps);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t idx = (n * C + c) * S + s;
        y[idx] = gamma[c] * ((x[idx] - mean[c]) * invStd) + beta[c];
      }
    }
  return y;
}

/// Training-mode batch norm over every dim but 1 (x [N,C,H,W] or [N,C];
/// gamma/beta/runMean/runVar [C]): y = gamma*(x-mean)/sqrt(var+eps)+beta with
/// the batch mean and BIASED batch variance; then, in place,
/// runMean = (1-momentum)*runMean + momentum*mean,
/// runVar  = (1-momentum)*runVar  + momentum*var*M/(M-1)  (M = numel/C;
/// var itself when M == 1). Torch convention: momentum weights the NEW stat.
/// The batch mean and variance go to `batchMean`, `batchVar` when given.
template <class T>
Tensor<T> batchnormTrain(const Tensor<T> &x, const Tensor<T> &gamma,
                         const Tensor<T> &beta, T eps, T momentum,
                         Tensor<T> &runMean, Tensor<T> &runVar,
                         std::vector<T> *batchMean = nullptr,
                         std::vector<T> *batchVar = nullptr) {
  std::vector<T> mean, var;
  const int64_t M = batchStats(x, mean, var);
  if (batchMean)
    *batchMean = mean;
  if (batchVar)
    *batchVar = var;
  const int64_t C = x.dim(1);
  assert(runMean.rank() == 1 && runMean.dim(0) == C);
  assert(runVar.rank() == 1 && runVar.dim(0) == C);
  Tensor<T> y = batchnormApply(x, gamma, beta, eps, mean, var);
  for (int64_t c = 0; c < C; ++c) {
    const T unbiasedVar = M > 1 ? var[c] * T(M) / T(M - 1) : var[c];
    runMean[c] = (T(1) - momentum) * runMean[c] + momentum * mean[c];
    runVar[c] = (T(1) - momentum) * runVar[c] + momentum * unbiasedVar;
  }
  return y;
}

/// Evaluation-mode batch norm (x [N,C,H,W] or [N,C]; all params [C]):
/// y = gamma*(x-runMean)/sqrt(runVar+eps)+beta; running stats untouched.
template <class T>
Tensor<T> batchnormEval(const Tensor<T> &x, const Tensor<T> &gamma,
                        const Tensor<T> &beta, T eps, const Tensor<T> &runMean,
                        const Tensor<T> &runVar) {
  assert(x.rank() >= 2);
  const int64_t C = x.dim(1);
  (void)C;
  assert(runMean.rank() == 1 && runMean.dim(0) == C);
  assert(runVar.rank() == 1 && runVar.dim(0) == C);
  return batchnormApply(x, gamma, beta, eps, runMean.data, runVar.data);
}

/// Max pool over the last two dims of x [N,C,H,W], window k x k, stride s, no
/// padding: y[n,c,i,j] = max_{0<=a,b<k} x[n,c,i*s+a,j*s+b], y [N,C,OH,OW],
/// OH = floor((H-k)/s)+1, OW = floor((W-k)/s)+1 (trailing rows/cols dropped).
template <class T>
Tensor<T> maxpool2d(const Tensor<T> &x, int64_t k, int64_t s) {
  assert(x.rank() == 4 && k >= 1 && s >= 1);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  assert(H >= k && W >= k);
  const int64_t OH = (H - k) / s + 1, OW = (W - k) / s + 1;
  Tensor<T> y({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          T best = x.at(n, c, i * s, j * s);
          for (int64_t a = 0; a < k; ++a)
            for (int64_t b = 0; b < k; ++b) {
              const T v = x.at(n, c, i * s + a, j * s + b);
              if (v > best)
                best = v;
            }
          y.at(n, c, i, j) = best;
        }
  return y;
}

/// [N, d1, d2, ...] -> [N, d1*d2*...]; data unchanged (row-major order kept).
template <class T> Tensor<T> flatten(const Tensor<T> &x) {
  assert(x.rank() >= 1);
  const int64_t N = x.dim(0);
  const int64_t rest = numElements(Shape(x.shape.begin() + 1, x.shape.end()));
  return Tensor<T>(Shape{N, rest}, x.data);
}

/// x [N,I], w [O,I], b [O] -> y [N,O], y[n,o] = b[o] + sum_i x[n,i]*w[o,i]
/// (i.e. x w^T + b).
template <class T>
Tensor<T> linear(const Tensor<T> &x, const Tensor<T> &w, const Tensor<T> &b) {
  assert(x.rank() == 2 && w.rank() == 2 && b.rank() == 1);
  const int64_t N = x.dim(0), I = x.dim(1), O = w.dim(0);
  assert(w.dim(1) == I && b.dim(0) == O);
  Tensor<T> y({N, O});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      T acc = b.at(o);
      for (int64_t i = 0; i < I; ++i)
        acc += x.at(n, i) * w.at(o, i);
      y.at(n, o) = acc;
    }
  return y;
}

/// logits [N,C], labels [N] (values in [0,C)) ->
/// (1/N) sum_n ( m_n + log(sum_c exp(logits[n,c]-m_n)) - logits[n,label[n]] )
/// with m_n = max_c logits[n,c] (numerically stable softmax cross-entropy).
template <class T>
T crossEntropy(const Tensor<T> &logits, const Tensor<int32_t> &labels) {
  assert(logits.rank() == 2 && labels.rank() == 1);
  const int64_t N = logits.dim(0), C = logits.dim(1);
  assert(labels.dim(0) == N && N > 0 && C > 0);
  T total = T(0);
  for (int64_t n = 0; n < N; ++n) {
    T m = logits.at(n, 0);
    for (int64_t c = 1; c < C; ++c)
      if (logits.at(n, c) > m)
        m = logits.at(n, c);
    T se = T(0);
    for (int64_t c = 0; c < C; ++c)
      se += std::exp(logits.at(n, c) - m);
    const int32_t label = labels[n];
    assert(label >= 0 && label < C && "label out of range");
    total += m + std::log(se) - logits.at(n, label);
  }
  return total / T(N);
}

/// logits [N,C], labels [N] -> (1/N) * #{n : argmax_c logits[n,c] == label[n]},
/// argmax taking the FIRST maximum on ties.
template <class T>
T accuracy(const Tensor<T> &logits, const Tensor<int32_t> &labels) {
  assert(logits.rank() == 2 && labels.rank() == 1);
  const int64_t N = logits.dim(0), C = logits.dim(1);
  assert(labels.dim(0) == N && N > 0 && C > 0);
  int64_t correct = 0;
  for (int64_t n = 0; n < N; ++n) {
    int64_t arg = 0;
    for (int64_t c = 1; c < C; ++c)
      if (logits.at(n, c) > logits.at(n, arg))
        arg = c;
    if (arg == labels[n])
      ++correct;
  }
  return T(correct) / T(N);
}

//===----------------------------------------------------------------------===//
// Meta-learner (optimizer network) ops
//===----------------------------------------------------------------------===//

/// Gradient preprocessing (Andrychowicz et al. 2016), p > 0, per element:
/// v -> (log(|v|)/p, sign(v)) if |v| >= exp(-p), else (-1, exp(p)*v).
/// x of any shape S -> rank-1 [2*numel(x)], pairs interleaved
/// (y[2k] = first component of x[k], y[2k+1] = second). sign(0) = 0.
template <class T> Tensor<T> preprocess(const Tensor<T> &x, T p) {
  assert(p > T(0));
  const T threshold = std::exp(-p);
  const T scale = std::exp(p);
  Tensor<T> y(Shape{2 * x.numel()});
  for (int64_t k = 0; k < x.numel(); ++k) {
    const T v = x[k];
    if (std::fabs(v) >= threshold) {
      y[2 * k] = std::log(std::fabs(v)) / p;
      y[2 * k + 1] = signScalar(v);
    } else {
      y[2 * k] = T(-1);
      y[2 * k + 1] = scale * v;
    }
  }
  return y;
}

/// Standard LSTM cell: x [I], h [H], c [H], w [4H, I+H] (multiplies
/// concat(x, h)), b [4H]; a = w*concat(x,h) + b, gate rows: input [0,H),
/// forget [H,2H), output [2H,3H), cell [3H,4H);
/// i=sig(a_i), f=sig(a_f), o=sig(a_o), g=tanh(a_g);
/// c' = f*c + i*g, h' = o*tanh(c'). Returns {h', c'} (both [H]).
template <class T>
std::pair<Tensor<T>, Tensor<T>> lstmCell(const Tensor<T> &x,
                                         const Tensor<T> &h,
                                         const Tensor<T> &c,
                                         const Tensor<T> &w,
                                         const Tensor<T> &b) {
  assert(x.rank() <= 1 && h.rank() == 1 && c.rank() == 1);
  assert(w.rank() == 2 && b.rank() == 1);
  const int64_t I = x.numel(), H = h.dim(0); // a rank-0 x is one input
  assert(c.dim(0) == H && w.dim(0) == 4 * H && w.dim(1) == I + H &&
         b.dim(0) == 4 * H);
  // Pre-activations a[r] = b[r] + sum_j w[r,j] * concat(x,h)[j].
  std::vector<T> a(4 * H);
  for (int64_t r = 0; r < 4 * H; ++r) {
    T acc = b.at(r);
    for (int64_t j = 0; j < I; ++j)
      acc += w.at(r, j) * x[j];
    for (int64_t j = 0; j < H; ++j)
      acc += w.at(r, I + j) * h.at(j);
    a[r] = acc;
  }
  Tensor<T> hNew({H}), cNew({H});
  for (int64_t k = 0; k < H; ++k) {
    const T ig = sigmoidScalar(a[k]);
    const T fg = sigmoidScalar(a[H + k]);
    const T og = sigmoidScalar(a[2 * H + k]);
    const T gg = std::tanh(a[3 * H + k]);
    cNew[k] = fg * c[k] + ig * gg;
    hNew[k] = og * std::tanh(cNew[k]);
  }
  return {std::move(hNew), std::move(cNew)};
}

/// Affine map on a vector. Vector form: x [I], w [O,I], b [O] -> y [O],
/// y[o] = b[o] + sum_i w[o,i]*x[i]. Scalar form: x [I], w [I], b [] (rank 0)
/// -> y [] (rank 0), y = b + sum_i w[i]*x[i].
template <class T>
Tensor<T> affine(const Tensor<T> &x, const Tensor<T> &w, const Tensor<T> &b) {
  assert(x.rank() <= 1);
  const int64_t I = x.numel(); // a rank-0 x is one input
  if (w.rank() == 1) {
    assert(w.dim(0) == I && b.rank() == 0 && b.numel() == 1);
    T acc = b[0];
    for (int64_t i = 0; i < I; ++i)
      acc += w[i] * x[i];
    return scalar(acc);
  }
  assert(w.rank() == 2 && w.dim(1) == I && b.rank() == 1);
  const int64_t O = w.dim(0);
  assert(b.dim(0) == O);
  Tensor<T> y({O});
  for (int64_t o = 0; o < O; ++o) {
    T acc = b.at(o);
    for (int64_t i = 0; i < I; ++i)
      acc += w.at(o, i) * x[i];
    y.at(o) = acc;
  }
  return y;
}

/// Concatenate rank-0 and rank-1 tensors, in order, into one rank-1 tensor
/// (a rank-0 part contributes its one element).
template <class T>
Tensor<T> concat(const std::vector<const Tensor<T> *> &parts) {
  std::vector<T> out;
  for (const Tensor<T> *p : parts) {
    assert(p && p->rank() <= 1 && "concat takes rank-0/rank-1 parts");
    out.insert(out.end(), p->data.begin(), p->data.end());
  }
  const int64_t n = int64_t(out.size());
  return Tensor<T>(Shape{n}, std::move(out));
}

//===----------------------------------------------------------------------===//
// Reverse-mode autodiff ops (gradients and the transposes they need)
//===----------------------------------------------------------------------===//

/// Row-major strides of a shape: stride[d] = prod_{e>d} shape[e] (empty for
/// rank 0).
inline std::vector<int64_t> rowMajorStrides(const Shape &shape) {
  std::vector<int64_t> stride(shape.size(), 1);
  for (int64_t d = int64_t(shape.size()) - 2; d >= 0; --d)
    stride[d] = stride[d + 1] * shape[d + 1];
  return stride;
}

/// Gradient of conv2d w.r.t. its input: dy [N,O,OH,OW], w [O,C,KH,KW] ->
/// dx [N,C,H,W] (H, W = the forward input size; OH = (H+2p-KH)/s+1,
/// OW = (W+2p-KW)/s+1 must match dy), same stride s / pad p as the forward:
/// dx[n,c,h,v] = sum_{o,i,j,ki,kj : i*s+ki-p == h, j*s+kj-p == v}
///               dy[n,o,i,j] * w[o,c,ki,kj].
template <class T>
Tensor<T> conv2dBackwardData(const Tensor<T> &dy, const Tensor<T> &w, int64_t H,
                             int64_t W, int64_t stride, int64_t pad) {
  assert(dy.rank() == 4 && w.rank() == 4);
  assert(stride >= 1 && pad >= 0 && H >= 1 && W >= 1);
  const int64_t N = dy.dim(0), O = dy.dim(1), OH = dy.dim(2), OW = dy.dim(3);
  const int64_t C = w.dim(1), KH = w.dim(2), KW = w.dim(3);
  assert(w.dim(0) == O);
  assert(H + 2 * pad >= KH && W + 2 * pad >= KW);
  assert(OH == (H + 2 * pad - KH) / stride + 1);
  assert(OW == (W + 2 * pad - KW) / stride + 1);
  Tensor<T> dx({N, C, H, W});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t ki = 0; ki < KH; ++ki) {
          int64_t ilo, ihi;
          convValidRange(H, OH, ki, stride, pad, ilo, ihi);
          for (int64_t kj = 0; kj < KW; ++kj) {
            int64_t jlo, jhi;
            convValidRange(W, OW, kj, stride, pad, jlo, jhi);
            const T wv = w.data[((o * C + c) * KH + ki) * KW + kj];
            for (int64_t i = ilo; i < ihi; ++i) {
              const T *gr = &dy.data[((n * O + o) * OH + i) * OW];
              T *dr = &dx.data[((n * C + c) * H + i * stride + ki - pad) * W];
              for (int64_t j = jlo; j < jhi; ++j)
                dr[j * stride + kj - pad] += gr[j] * wv; // padding taps feed nothing
            }
          }
        }
  return dx;
}

/// Gradient of conv2d w.r.t. its weight: x [N,C,H,W], dy [N,O,OH,OW] ->
/// dw [O,C,KH,KW] (KH, KW given; OH, OW as in conv2d must match dy):
/// dw[o,c,ki,kj] = sum_{n,i,j} dy[n,o,i,j] * x[n,c,i*s+ki-p,j*s+kj-p]
/// (out-of-range x reads are 0).
template <class T>
Tensor<T> conv2dBackwardFilter(const Tensor<T> &x, const Tensor<T> &dy,
                               int64_t KH, int64_t KW, int64_t stride,
                               int64_t pad) {
  assert(x.rank() == 4 && dy.rank() == 4);
  assert(stride >= 1 && pad >= 0 && KH >= 1 && KW >= 1);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t O = dy.dim(1), OH = dy.dim(2), OW = dy.dim(3);
  assert(dy.dim(0) == N);
  assert(H + 2 * pad >= KH && W + 2 * pad >= KW);
  assert(OH == (H + 2 * pad - KH) / stride + 1);
  assert(OW == (W + 2 * pad - KW) / stride + 1);
  Tensor<T> dw({O, C, KH, KW});
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ki = 0; ki < KH; ++ki) {
        int64_t ilo, ihi;
        convValidRange(H, OH, ki, stride, pad, ilo, ihi);
        for (int64_t kj = 0; kj < KW; ++kj) {
          int64_t jlo, jhi;
          convValidRange(W, OW, kj, stride, pad, jlo, jhi);
          double acc = 0; // padding taps contribute 0; a long sum: double
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = ilo; i < ihi; ++i) {
              const T *gr = &dy.data[((n * O + o) * OH + i) * OW];
              const T *xr = &x.data[((n * C + c) * H + i * stride + ki - pad) * W];
              for (int64_t j = jlo; j < jhi; ++j)
                acc += double(gr[j]) * double(xr[j * stride + kj - pad]);
            }
          dw.data[((o * C + c) * KH + ki) * KW + kj] = T(acc);
        }
      }
  return dw;
}

/// Row-major offset (a, b) inside the k x k window of x [N,C,H,W] at output
/// position (i, j), stride s, of that window's maximum: the FIRST maximum in
/// row-major window order (the element maxpool2d picks). Returned as a*k+b.
template <class T>
int64_t maxpoolWindowArgmax(const Tensor<T> &x, int64_t n, int64_t c, int64_t i,
                            int64_t j, int64_t k, int64_t s) {
  int64_t arg = 0;
  T best = x.at(n, c, i * s, j * s);
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < k; ++b) {
      const T v = x.at(n, c, i * s + a, j * s + b);
      if (v > best) {
        best = v;
        arg = a * k + b;
      }
    }
  return arg;
}

/// Gradient of maxpool2d (k x k window, stride s, no padding) w.r.t. its
/// input: x [N,C,H,W], dy [N,C,OH,OW] (OH, OW as in maxpool2d) -> dx shaped
/// like x, dx[n,c,i*s+a*,j*s+b*] += dy[n,c,i,j] where (a*, b*) is the first
/// row-major maximum of window (i, j); zeros elsewhere, overlapping windows
/// accumulate.
template <class T>
Tensor<T> maxpoolBackward(const Tensor<T> &x, const Tensor<T> &dy, int64_t k,
                          int64_t s) {
  assert(x.rank() == 4 && dy.rank() == 4 && k >= 1 && s >= 1);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  assert(H >= k && W >= k);
  const int64_t OH = (H - k) / s + 1, OW = (W - k) / s + 1;
  assert(dy.shape == (Shape{N, C, OH, OW}));
  Tensor<T> dx(x.shape);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          const int64_t arg = maxpoolWindowArgmax(x, n, c, i, j, k, s);
          dx.at(n, c, i * s + arg / k, j * s + arg % k) += dy.at(n, c, i, j);
        }
  return dx;
}

/// The transpose of maxpoolBackward w.r.t. dy: x, g [N,C,H,W] ->
/// y [N,C,OH,OW], y[n,c,i,j] = g[n,c,i*s+a*,j*s+b*] with (a*, b*) the first
/// row-major maximum of x's window (i, j). maxpoolGather(x, x) ==
/// maxpool2d(x).
template <class T>
Tensor<T> maxpoolGather(const Tensor<T> &x, const Tensor<T> &g, int64_t k,
                        int64_t s) {
  assert(x.rank() == 4 && k >= 1 && s >= 1);
  assert(g.shape == x.shape);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  assert(H >= k && W >= k);
  const int64_t OH = (H - k) / s + 1, OW = (W - k) / s + 1;
  Tensor<T> y({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          const int64_t arg = maxpoolWindowArgmax(x, n, c, i, j, k, s);
          y.at(n, c, i, j) = g.at(n, c, i * s + arg / k, j * s + arg % k);
        }
  return y;
}

/// Sum over the listed dims (sorted, distinct, each < rank(x)); the result
/// drops those dims (rank 0 if all are listed, x itself if none):
/// y[kept idx] = sum_{reduced idx} x[idx], accumulated in row-major x order.
template <class T>
Tensor<T> reduceSum(const Tensor<T> &x, const std::vector<int64_t> &dims) {
  const int64_t R = x.rank();
  std::vector<bool> reduced(R, false);
  for (size_t k = 0; k < dims.size(); ++k) {
    assert(dims[k] >= 0 && dims[k] < R && "reduceSum: dim out of range");
    assert((k == 0 || dims[k - 1] < dims[k]) &&
           "reduceSum: dims must be sorted and distinct");
    reduced[dims[k]] = true;
  }
  Shape outShape;
  for (int64_t d = 0; d < R; ++d)
    if (!reduced[d])
      outShape.push_back(x.dim(d));
  // Stride in the result of every x dim (0 for a reduced dim).
  std::vector<int64_t> outStride(R, 0);
  int64_t st = 1;
  for (int64_t d = R - 1; d >= 0; --d)
    if (!reduced[d]) {
      outStride[d] = st;
      st *= x.dim(d);
    }
  std::vector<double> acc(size_t(numElements(outShape)), 0.0); // see batchStats
  for (int64_t flat = 0; flat < x.numel(); ++flat) {
    int64_t rem = flat, off = 0;
    for (int64_t d = R - 1; d >= 0; --d) {
      off += (rem % x.dim(d)) * outStride[d];
      rem /= x.dim(d);
    }
    acc[off] += double(x[flat]);
  }
  Tensor<T> y(outShape);
  for (int64_t i = 0; i < y.numel(); ++i)
    y[i] = T(acc[i]);
  return y;
}

/// Broadcast x to `shape`: operand dim i maps to result dim dims[i] (dims
/// strictly increasing, each < rank(shape), x.dim(i) == shape[dims[i]]);
/// every other result dim repeats: y[idx] = x[idx[dims[0]], idx[dims[1]], ...].
/// (The transpose of reduceSum over the complement of dims.)
template <class T>
Tensor<T> broadcastInDim(const Tensor<T> &x, const Shape &shape,
                         const std::vector<int64_t> &dims) {
  const int64_t R = int64_t(shape.size());
  assert(int64_t(dims.size()) == x.rank() && "one result dim per x dim");
  // Stride in x of every result dim (0 for a broadcast dim).
  std::vector<int64_t> inStride(R, 0);
  int64_t st = 1;
  for (int64_t i = x.rank() - 1; i >= 0; --i) {
    assert(dims[i] >= 0 && dims[i] < R && "broadcastInDim: dim out of range");
    assert((i == 0 || dims[i - 1] < dims[i]) &&
           "broadcastInDim: dims must be strictly increasing");
    assert(x.dim(i) == shape[dims[i]] && "broadcastInDim: size mismatch");
    inStride[dims[i]] = st;
    st *= x.dim(i);
  }
  Tensor<T> y(shape);
  for (int64_t flat = 0; flat < y.numel(); ++flat) {
    int64_t rem = flat, off = 0;
    for (int64_t d = R - 1; d >= 0; --d) {
      off += (rem % shape[d]) * inStride[d];
      rem /= shape[d];
    }
    y[flat] = x[off];
  }
  return y;
}

/// 2-D matrix product with optional transposes: op(a) [M,K] x op(b) [K,N] ->
/// y [M,N], y[m,n] = sum_k op(a)[m,k] * op(b)[k,n], where op(a) = a^T (a
/// stored [K,M]) if transposeA else a (stored [M,K]); likewise op(b) = b^T (b
/// stored [N,K]) if transposeB else b (stored [K,N]).
template <class T>
Tensor<T> matmul(const Tensor<T> &a, const Tensor<T> &b, bool transposeA,
                 bool transposeB) {
  assert(a.rank() == 2 && b.rank() == 2);
  const int64_t M = transposeA ? a.dim(1) : a.dim(0);
  const int64_t K = transposeA ? a.dim(0) : a.dim(1);
  const int64_t N = transposeB ? b.dim(0) : b.dim(1);
  assert((transposeB ? b.dim(1) : b.dim(0)) == K && "matmul: K mismatch");
  Tensor<T> y({M, N});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      T acc = T(0);
      for (int64_t k = 0; k < K; ++k) {
        const T av = transposeA ? a.at(k, m) : a.at(m, k);
        const T bv = transposeB ? b.at(n, k) : b.at(k, n);
        acc += av * bv;
      }
      y.at(m, n) = acc;
    }
  return y;
}

/// Row-wise log-sum-exp: x [N,C] (C >= 1) -> y [N],
/// y[n] = m_n + log(sum_c exp(x[n,c] - m_n)), m_n = max_c x[n,c] (stable).
template <class T> Tensor<T> logsumexp(const Tensor<T> &x) {
  assert(x.rank() == 2);
  const int64_t N = x.dim(0), C = x.dim(1);
  assert(C > 0);
  Tensor<T> y({N});
  for (int64_t n = 0; n < N; ++n) {
    T m = x.at(n, 0);
    for (int64_t c = 1; c < C; ++c)
      if (x.at(n, c) > m)
        m = x.at(n, c);
    T se = T(0);
    for (int64_t c = 0; c < C; ++c)
      se += std::exp(x.at(n, c) - m);
    y.at(n) = m + std::log(se);
  }
  return y;
}

/// labels [N] (values in [0,classes)) -> y [N,classes] in T,
/// y[n,c] = (c == labels[n]) ? 1 : 0.
template <class T>
Tensor<T> oneHot(const Tensor<int32_t> &labels, int64_t classes) {
  assert(labels.rank() == 1 && classes >= 1);
  const int64_t N = labels.dim(0);
  Tensor<T> y({N, classes});
  for (int64_t n = 0; n < N; ++n) {
    assert(labels[n] >= 0 && labels[n] < classes && "label out of range");
    y.at(n, int64_t(labels[n])) = T(1);
  }
  return y;
}

/// Heaviside step elementwise: y = 1 where x > 0, else 0 (step(0) = 0, NaN ->
/// 0); the derivative of relu.
template <class T> Tensor<T> step(const Tensor<T> &x) {
  return map(x, [](T v) { return v > T(0) ? T(1) : T(0); });
}

/// Static slice: y has shape `sizes` and y[i...] = x[offsets + i...]
/// (one offset and size per dim, offsets[d] + sizes[d] <= x.dim(d)).
template <class T>
Tensor<T> slice(const Tensor<T> &x, const std::vector<int64_t> &offsets,
                const Shape &sizes) {
  const int64_t R = x.rank();
  assert(int64_t(offsets.size()) == R && int64_t(sizes.size()) == R);
  for (int64_t d = 0; d < R; ++d)
    assert(offsets[d] >= 0 && sizes[d] >= 0 &&
           offsets[d] + sizes[d] <= x.dim(d) && "slice out of range");
  const std::vector<int64_t> xStride = rowMajorStrides(x.shape);
  Tensor<T> y(sizes);
  for (int64_t flat = 0; flat < y.numel(); ++flat) {
    int64_t rem = flat, off = 0;
    for (int64_t d = R - 1; d >= 0; --d) {
      off += (offsets[d] + rem % sizes[d]) * xStride[d];
      rem /= sizes[d];
    }
    y[flat] = x[off];
  }
  return y;
}

/// The transpose of slice: y = zeros(shape) with y[offsets + i...] = g[i...]
/// (g.rank() == rank(shape), offsets[d] + g.dim(d) <= shape[d]).
template <class T>
Tensor<T> unslice(const Tensor<T> &g, const std::vector<int64_t> &offsets,
                  const Shape &shape) {
  const int64_t R = g.rank();
  assert(int64_t(offsets.size()) == R && int64_t(shape.size()) == R);
  for (int64_t d = 0; d < R; ++d)
    assert(offsets[d] >= 0 && offsets[d] + g.dim(d) <= shape[d] &&
           "unslice out of range");
  const std::vector<int64_t> yStride = rowMajorStrides(shape);
  Tensor<T> y(shape);
  for (int64_t flat = 0; flat < g.numel(); ++flat) {
    int64_t rem = flat, off = 0;
    for (int64_t d = R - 1; d >= 0; --d) {
      off += (offsets[d] + rem % g.dim(d)) * yStride[d];
      rem /= g.dim(d);
    }
    y[off] = g[flat];
  }
  return y;
}

/// Vector-Jacobian product of preprocess w.r.t. x (p > 0): x shape S,
/// g [2*numel(x)] (pairs interleaved like preprocess's output) -> dx shape S,
/// per element: |x| >= exp(-p): dx[k] = g[2k] / (p * x[k]) (sign part is
/// constant); else dx[k] = g[2k+1] * exp(p) (first component -1 is constant).
template <class T>
Tensor<T> preprocessGrad(const Tensor<T> &x, const Tensor<T> &g, T p) {
  assert(p > T(0));
  assert(g.rank() == 1 && g.dim(0) == 2 * x.numel());
  const T threshold = std::exp(-p);
  const T scale = std::exp(p);
  Tensor<T> dx(x.shape);
  for (int64_t k = 0; k < x.numel(); ++k) {
    const T v = x[k];
    if (std::fabs(v) >= threshold)
      dx[k] = g[2 * k] / (p * v);
    else
      dx[k] = g[2 * k + 1] * scale;
  }
  return dx;
}

/// Adjoints of lstmCell's inputs (see lstmCellGrad).
template <class T> struct LstmGrads { Tensor<T> dx, dh, dc, dw, db; };

/// VJP of lstmCell (x [I] or rank 0 = one element, h, c [H], w [4H, I+H] over
/// z = concat(x, h), b [4H]) given adjoints dhNext, dcNext [H] of (h', c'):
/// with a = w z + b, gates i, f, o, g as in lstmCell and t = tanh(c'):
/// dc'' = dcNext + dhNext*o*(1-t^2); da_i = dc''*g*i(1-i),
/// da_f = dc''*c*f(1-f), da_o = dhNext*t*o(1-o), da_g = dc''*i*(1-g^2);
/// db = da, dw[r,j] = da[r]*z[j], dz = w^T da -> dx = dz[0,I) (shaped like
/// x), dh = dz[I,I+H), dc = dc''*f.
template <class T>
LstmGrads<T> lstmCellGrad(const Tensor<T> &x, const Tensor<T> &h,
                          const Tensor<T> &c, const Tensor<T> &w,
                          const Tensor<T> &b, const Tensor<T> &dhNext,
                          const Tensor<T> &dcNext) {
  assert(x.rank() <= 1 && h.rank() == 1 && c.rank() == 1);
  assert(w.rank() == 2 && b.rank() == 1);
  const int64_t I = x.numel(), H = h.dim(0);
  assert(c.dim(0) == H && w.dim(0) == 4 * H && w.dim(1) == I + H &&
         b.dim(0) == 4 * H);
  assert(dhNext.rank() == 1 && dhNext.dim(0) == H);
  assert(dcNext.rank() == 1 && dcNext.dim(0) == H);
  // z = concat(x, h); pre-activations a[r] = b[r] + sum_j w[r,j] * z[j].
  std::vector<T> z(I + H);
  for (int64_t j = 0; j < I; ++j)
    z[j] = x[j];
  for (int64_t j = 0; j < H; ++j)
    z[I + j] = h[j];
  std::vector<T> a(4 * H);
  for (int64_t r = 0; r < 4 * H; ++r) {
    T acc = b.at(r);
    for (int64_t j = 0; j < I + H; ++j)
      acc += w.at(r, j) * z[j];
    a[r] = acc;
  }
  LstmGrads<T> out;
  out.dc = Tensor<T>({H});
  out.db = Tensor<T>({4 * H});
  for (int64_t k = 0; k < H; ++k) {
    const T ig = sigmoidScalar(a[k]);
    const T fg = sigmoidScalar(a[H + k]);
    const T og = sigmoidScalar(a[2 * H + k]);
    const T gg = std::tanh(a[3 * H + k]);
    const T cNew = fg * c[k] + ig * gg;
    const T t = std::tanh(cNew);
    const T dcTot = dcNext[k] + dhNext[k] * og * (T(1) - t * t);
    out.db[k] = dcTot * gg * ig * (T(1) - ig);
    out.db[H + k] = dcTot * c[k] * fg * (T(1) - fg);
    out.db[2 * H + k] = dhNext[k] * t * og * (T(1) - og);
    out.db[3 * H + k] = dcTot * ig * (T(1) - gg * gg);
    out.dc[k] = dcTot * fg;
  }
  out.dw = Tensor<T>({4 * H, I + H});
  for (int64_t r = 0; r < 4 * H; ++r)
    for (int64_t j = 0; j < I + H; ++j)
      out.dw.at(r, j) = out.db[r] * z[j];
  out.dx = Tensor<T>(x.shape);
  out.dh = Tensor<T>({H});
  for (int64_t j = 0; j < I + H; ++j) {
    T acc = T(0);
    for (int64_t r = 0; r < 4 * H; ++r)
      acc += w.at(r, j) * out.db[r];
    if (j < I)
      out.dx[j] = acc;
    else
      out.dh[j - I] = acc;
  }
  return out;
}

/// Adjoints of affine's inputs (see affineGrad).
template <class T> struct AffineGrads { Tensor<T> dx, dw, db; };

/// VJP of affine given the adjoint g of its output. Vector form (x [I],
/// w [O,I], g [O]): dx[i] = sum_o g[o]*w[o,i], dw[o,i] = g[o]*x[i], db = g
/// [O]. Scalar form (x [I], w [I], g rank 0): dx[i] = g*w[i], dw[i] = g*x[i],
/// db = g (rank 0).
template <class T>
AffineGrads<T> affineGrad(const Tensor<T> &x, const Tensor<T> &w,
                          const Tensor<T> &g) {
  assert(x.rank() <= 1);
  const int64_t I = x.numel(); // a rank-0 x is one input; dx keeps x's shape
  AffineGrads<T> out;
  if (w.rank() == 1) {
    assert(w.dim(0) == I && g.rank() == 0 && g.numel() == 1);
    out.dx = Tensor<T>(x.shape);
    out.dw = Tensor<T>({I});
    for (int64_t i = 0; i < I; ++i) {
      out.dx[i] = g[0] * w[i];
      out.dw[i] = g[0] * x[i];
    }
    out.db = scalar(g[0]);
    return out;
  }
  assert(w.rank() == 2 && w.dim(1) == I && g.rank() == 1);
  const int64_t O = w.dim(0);
  assert(g.dim(0) == O);
  out.dx = Tensor<T>(x.shape);
  for (int64_t i = 0; i < I; ++i) {
    T acc = T(0);
    for (int64_t o = 0; o < O; ++o)
      acc += g.at(o) * w.at(o, i);
    out.dx[i] = acc;
  }
  out.dw = Tensor<T>({O, I});
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      out.dw.at(o, i) = g.at(o) * x[i];
  out.db = g;
  return out;
}

} // namespace lopt::ref

#endif // LOPT_INTERPRETER_REFOPS_H
