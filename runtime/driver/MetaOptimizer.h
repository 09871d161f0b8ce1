//===- MetaOptimizer.h - Adam on the meta-parameters ------------*- C++ -*-===//
//
// The meta-update of a generated binary, as PyTorch's Adam does it after
// torch.nn.utils.clip_grad_norm_: the gradients of all meta-parameters are
// scaled together so that their global L2 norm is at most clip_norm (when
// clip_norm > 0), then each coordinate takes a bias-corrected Adam step.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_METAOPTIMIZER_H
#define LOPT_RUNTIME_DRIVER_METAOPTIMIZER_H

#include "runtime/Tensor.h"

#include <cmath>
#include <map>
#include <string>

namespace lopt::driver {

class Adam {
public:
  Adam(double lr, double beta1, double beta2, double eps, double clipNorm)
      : lr(lr), beta1(beta1), beta2(beta2), eps(eps), clipNorm(clipNorm) {}

  /// The global L2 norm of the gradients grads["grad/" + name] of `params`.
  static double globalNorm(const std::map<std::string, Tensor<float>> &params,
                           const std::map<std::string, Tensor<float>> &grads) {
    double total = 0;
    for (auto &[name, p] : params)
      if (auto g = grads.find("grad/" + name); g != grads.end())
        for (float v : g->second.data)
          total += double(v) * v;
    return std::sqrt(total);
  }

  /// Updates every parameter p that has a gradient grads["grad/" + name].
  /// Returns the global gradient norm before clipping.
  double step(std::map<std::string, Tensor<float>> &params,
              const std::map<std::string, Tensor<float>> &grads) {
    double total = globalNorm(params, grads);
    step(params, grads, total);
    return total;
  }

  /// The same with the global norm already known (globalNorm).
  void step(std::map<std::string, Tensor<float>> &params,
            const std::map<std::string, Tensor<float>> &grads, double total) {
    double scale = 1;
    if (clipNorm > 0 && total > clipNorm)
      scale = clipNorm / (total + 1e-6);
    ++t;
    double c1 = 1 - std::pow(beta1, double(t)), c2 = 1 - std::pow(beta2, double(t));
    for (auto &[name, p] : params) {
      auto g = grads.find("grad/" + name);
      if (g == grads.end())
        continue;
      Tensor<float> &m = moments1[name], &v = moments2[name];
      if (m.data.empty()) {
        m = Tensor<float>(p.shape);
        v = Tensor<float>(p.shape);
      }
      for (size_t i = 0; i < p.data.size(); ++i) {
        double gi = double(g->second.data[i]) * scale;
        m.data[i] = float(beta1 * m.data[i] + (1 - beta1) * gi);
        v.data[i] = float(beta2 * v.data[i] + (1 - beta2) * gi * gi);
        double denom = std::sqrt(double(v.data[i]) / c2) + eps;
        p.data[i] = float(p.data[i] - lr * (double(m.data[i]) / c1) / denom);
      }
    }
  }

  /// The moments by parameter name and the step count (for checkpoints).
  std::map<std::string, Tensor<float>> moments1, moments2;
  int64_t t = 0;

private:
  double lr, beta1, beta2, eps, clipNorm;
};

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_METAOPTIMIZER_H
