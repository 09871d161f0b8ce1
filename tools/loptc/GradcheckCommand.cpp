//===- GradcheckCommand.cpp - loptc gradcheck -----------------------------===//
//
// Compares the meta-gradient (@E.meta_grad) with central finite differences
// of the meta-loss (@E.unrolled), both in double precision. Under a
// truncation policy the finite differences hold constant exactly what the
// policy treats as constant: a base run records every lopt.stop_gradient
// value and the perturbed runs replay them.
//
//===----------------------------------------------------------------------===//
#include "tools/loptc/EpisodeSetup.h"

#include "runtime/Random.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace lopt;
using namespace mlir;

namespace {

/// Coordinates to check: the largest |gradient| first, then random others.
std::vector<int64_t> pickCoordinates(const Tensor<double> &grad, int samples,
                                     Rng &rng) {
  std::vector<int64_t> picked;
  int64_t n = grad.numel(), best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (std::fabs(grad[i]) > std::fabs(grad[best]))
      best = i;
  picked.push_back(best);
  while (int64_t(picked.size()) < std::min<int64_t>(samples, n)) {
    int64_t i = int64_t(rng.below(uint64_t(n)));
    if (std::find(picked.begin(), picked.end(), i) == picked.end())
      picked.push_back(i);
  }
  return picked;
}

} // namespace

int lopt::runGradcheckCommand(const EpisodeOptions &opts) {
  Description d;
  PreparedEpisode p;
  if (!prepareEpisode(d, opts, "gradcheck", /*syntheticDefault=*/true, p))
    return 1;
  bool anyMeta = false;
  for (const OperandInfo &a : describeArguments(p.fns.unrolled))
    anyMeta |= a.role == role::kMeta || a.role == role::kMetaCoord;
  if (!anyMeta || !p.fns.metaGrad)
    return commandError("gradcheck", "episode '" +
                                         p.fns.episode.getSymName().str() +
                                         "' has no meta-parameters to check");
  EpisodeOp ep = p.fns.episode;
  std::string error;

  // The analytic meta-gradient.
  std::vector<RtValue<double>> args, results;
  if (!episodeArguments<double>(p.fns.metaGrad, p.data, p.meta, args, error) ||
      !interpret<double>(p.fns.metaGrad, args, results, error))
    return commandError("gradcheck", error);
  std::map<std::string, Tensor<double>> grads =
      namedResults(p.fns.metaGrad, results);

  // The base run of the meta-loss records what truncation holds constant.
  StopGradientTape<double> tape;
  func::FuncOp unrolled = p.fns.unrolled;
  std::vector<OperandInfo> argInfo = describeArguments(unrolled);
  if (!episodeArguments<double>(unrolled, p.data, p.meta, args, error) ||
      !interpret<double>(unrolled, args, results, error, &tape))
    return commandError("gradcheck", error);
  double baseLoss = results[0].f[0];
  tape.mode = StopGradientTape<double>::Mode::Replay;
  auto metaLoss = [&](std::vector<RtValue<double>> &perturbed,
                      double &out) {
    std::vector<RtValue<double>> res;
    if (!interpret<double>(unrolled, perturbed, res, error, &tape))
      return false;
    out = res[0].f[0];
    return true;
  };

  printLine("gradcheck %s: meta_gradient %s%s, %lld steps, %s, double "
            "precision",
            ep.getSymName().str().c_str(), ep.getMetaGradient().str().c_str(),
            ep.getMetaGradient() == "horizon"
                ? ("(" + std::to_string(ep.getHorizon()) + ")").c_str()
                : "",
            (long long)ep.getSteps(), p.dataSource.c_str());
  printLine("meta-loss %.8f", baseLoss);
  printLine("  %-28s %-12s %-12s %-12s %s", "meta-parameter", "shape",
            "grad norm", "worst rel.", "checked");
  Rng rng(opts.seed + 17);
  double worst = 0;
  for (size_t i = 0; i < argInfo.size(); ++i) {
    const OperandInfo &a = argInfo[i];
    if (a.role != role::kMeta && a.role != role::kMetaCoord)
      continue;
    const Tensor<double> &g = grads.at("grad/" + a.name);
    double gnorm = 0;
    for (double v : g.data)
      gnorm += v * v;
    double tensorWorst = 0;
    int checked = 0, belowNoise = 0;
    for (int64_t k : pickCoordinates(g, opts.samples, rng)) {
      double x = args[i].f[k], an = g[k];
      // Central differences in double: truncation error ~h^2, rounding
      // ~1e-16 |L| / h, and a step that crosses a ReLU or max-pool kink is
      // off by what the kink changes (Adam's 1/eps curvature under `full`
      // is as sharp). A mismatch is retried with steps 10, 100 and 1000
      // times smaller: a wrong gradient stays wrong at every step, a kink
      // moves away.
      double rel = INFINITY;
      bool zero = false, ok = true;
      for (int attempt = 0; attempt < 4 && rel > opts.tolerance; ++attempt) {
        double h = opts.fdStep * std::pow(0.1, attempt) *
                   std::max(1.0, std::fabs(x));
        double plus, minus;
        args[i].f[k] = x + h;
        ok = metaLoss(args, plus);
        args[i].f[k] = x - h;
        ok = ok && metaLoss(args, minus);
        args[i].f[k] = x;
        if (!ok)
          break;
        double fd = (plus - minus) / (2 * h);
        if (!std::isfinite(fd) || !std::isfinite(an))
          break; // not a number is never a match
        double scale = std::max(std::fabs(fd), std::fabs(an));
        // Below this a derivative is rounding noise of the meta-loss.
        double noise = 1e-13 * std::max(1.0, std::fabs(baseLoss)) / h;
        if (scale <= noise) {
          zero = true;
          break;
        }
        rel = std::min(rel, std::fabs(fd - an) / scale);
      }
      if (!ok)
        return commandError("gradcheck", error);
      if (zero) {
        ++belowNoise;
        continue;
      }
      tensorWorst = std::max(tensorWorst, rel);
      ++checked;
    }
    worst = std::max(worst, tensorWorst);
    if (!std::isfinite(gnorm))
      worst = tensorWorst = INFINITY;
    std::string count = std::to_string(checked);
    if (belowNoise)
      count += " (+" + std::to_string(belowNoise) + " zero)";
    printLine("  %-28s %-12s %-12.4e %-12.3e %s", a.name.c_str(),
              shapeToString(a.shape).c_str(), std::sqrt(gnorm), tensorWorst,
              count.c_str());
  }
  bool pass = worst <= opts.tolerance;
  printLine("%s: worst relative error %.3e %s tolerance %.1e",
            pass ? "PASS" : "FAIL", worst, pass ? "<=" : ">", opts.tolerance);
  return pass ? 0 : 1;
}
