//===- LearningCurve.h - the learning curve of a run as SVG -----*- C++ -*-===//
#ifndef LOPT_RUNTIME_DRIVER_LEARNINGCURVE_H
#define LOPT_RUNTIME_DRIVER_LEARNINGCURVE_H

#include <cstdint>
#include <string>
#include <vector>

namespace lopt::driver {

struct CurvePoint {
  int64_t episode;
  double value;
};

struct LearningCurve {
  std::string title;
  std::vector<CurvePoint> metaLoss;      // per meta-training episode
  std::vector<CurvePoint> trainAccuracy; // query accuracy, per episode
  std::vector<CurvePoint> valAccuracy;   // per validation
  std::vector<double> valCi95;           // its 95% half-width
};

/// Two panels: the meta-loss (moving average) and the accuracies (training
/// query accuracy as a moving average, validation with its interval)
/// against meta-training episodes.
std::string learningCurveSvg(const LearningCurve &curve);

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_LEARNINGCURVE_H
