//===- LearningCurve.cpp - the learning curve of a run as SVG -------------===//
#include "runtime/driver/LearningCurve.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace lopt::driver {

namespace {

/// Averages over a window of about 1/50 of the run (at least 1).
std::vector<CurvePoint> movingAverage(const std::vector<CurvePoint> &in) {
  size_t w = std::max<size_t>(1, in.size() / 50);
  std::vector<CurvePoint> out;
  double sum = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    sum += in[i].value;
    if (i >= w)
      sum -= in[i - w].value;
    if (i + 1 >= std::min(w, in.size()))
      out.push_back({in[i].episode, sum / double(std::min(i + 1, w))});
  }
  return out;
}

std::string fmt(const char *f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

/// One panel at (x0, y0), plot area w x h, y range [lo, hi].
struct Panel {
  double x0, y0, w, h, lo, hi;
  int64_t e0, e1;
  double x(int64_t e) const {
    return x0 + w * double(e - e0) / double(std::max<int64_t>(1, e1 - e0));
  }
  double y(double v) const {
    return y0 + h - h * (v - lo) / (hi - lo > 0 ? hi - lo : 1);
  }
  std::string frame(const std::string &label) const {
    std::string s = "<rect x='" + fmt("%.1f", x0) + "' y='" + fmt("%.1f", y0) +
                    "' width='" + fmt("%.1f", w) + "' height='" +
                    fmt("%.1f", h) + "' fill='none' stroke='#888'/>\n";
    for (int i = 0; i <= 4; ++i) {
      double v = lo + (hi - lo) * i / 4;
      s += "<text x='" + fmt("%.1f", x0 - 6) + "' y='" + fmt("%.1f", y(v) + 4) +
           "' text-anchor='end'>" + fmt("%.3g", v) + "</text>\n";
    }
    for (int i = 0; i <= 4; ++i) {
      int64_t e = e0 + (e1 - e0) * i / 4;
      s += "<text x='" + fmt("%.1f", x(e)) + "' y='" + fmt("%.1f", y0 + h + 16) +
           "' text-anchor='middle'>" + std::to_string(e) + "</text>\n";
    }
    s += "<text x='" + fmt("%.1f", x0 + w / 2) + "' y='" + fmt("%.1f", y0 - 8) +
         "' text-anchor='middle'>" + label + "</text>\n";
    return s;
  }
  std::string line(const std::vector<CurvePoint> &pts,
                   const std::string &colour) const {
    if (pts.empty())
      return "";
    std::string s = "<polyline fill='none' stroke='" + colour + "' points='";
    for (const CurvePoint &p : pts)
      s += fmt("%.1f", x(p.episode)) + "," + fmt("%.1f", y(p.value)) + " ";
    return s + "'/>\n";
  }
};

} // namespace

std::string learningCurveSvg(const LearningCurve &c) {
  std::vector<CurvePoint> loss = movingAverage(c.metaLoss),
                          acc = movingAverage(c.trainAccuracy);
  int64_t e0 = 0, e1 = 1;
  for (const CurvePoint &p : c.metaLoss)
    e1 = std::max(e1, p.episode);
  for (const CurvePoint &p : c.valAccuracy)
    e1 = std::max(e1, p.episode);
  double lo = 0, hi = 0;
  for (const CurvePoint &p : loss)
    if (std::isfinite(p.value))
      hi = std::max(hi, p.value);
  Panel left{70, 40, 380, 240, lo, hi > 0 ? hi * 1.05 : 1, e0, e1};
  Panel right{540, 40, 380, 240, 0, 1, e0, e1};
  std::string s =
      "<svg xmlns='http://www.w3.org/2000/svg' width='960' height='340' "
      "font-family='sans-serif' font-size='11'>\n<rect width='960' "
      "height='340' fill='white'/>\n";
  s += "<text x='480' y='16' text-anchor='middle' font-size='13'>" + c.title +
       "</text>\n";
  s += left.frame("meta-loss (query, moving average)") + left.line(loss, "#1f77b4");
  s += right.frame("accuracy") + right.line(acc, "#aaaaaa") +
       right.line(c.valAccuracy, "#d62728");
  for (size_t i = 0; i < c.valAccuracy.size(); ++i) {
    const CurvePoint &p = c.valAccuracy[i];
    double ci = i < c.valCi95.size() ? c.valCi95[i] : 0;
    s += "<line x1='" + fmt("%.1f", right.x(p.episode)) + "' x2='" +
         fmt("%.1f", right.x(p.episode)) + "' y1='" +
         fmt("%.1f", right.y(p.value - ci)) + "' y2='" +
         fmt("%.1f", right.y(p.value + ci)) + "' stroke='#d62728'/>\n";
  }
  s += "<text x='700' y='320' text-anchor='middle'>meta-training episodes; "
       "grey: training queries (moving average), red: validation (95% "
       "CI)</text>\n";
  s += "<text x='260' y='320' text-anchor='middle'>meta-training "
       "episodes</text>\n</svg>\n";
  return s;
}

} // namespace lopt::driver
