//===- CompareCommand.cpp - loptc compare: two .npz files agree -----------===//
//
// The oracle of compiled code: every array of the reference .npz (say
// `loptc episode --dump`, the interpreter) must be in the other (a
// compiled binary's `episode --dump`) with the same shape, and its largest
// difference, relative to the reference's largest magnitude, at most the
// tolerance. Prints one line per array and the worst; exits 1 on failure.
//
//===----------------------------------------------------------------------===//
#include "tools/loptc/Driver.h"

#include "runtime/Npz.h"

#include <cmath>

using namespace lopt;

namespace {
std::vector<double> values(const data::NpzArray &a) {
  switch (a.type) {
  case data::NpzArray::Type::F32:
    return std::vector<double>(a.f32.begin(), a.f32.end());
  case data::NpzArray::Type::F64:
    return a.f64;
  case data::NpzArray::Type::I32:
    return std::vector<double>(a.i32.begin(), a.i32.end());
  }
  return {};
}
} // namespace

int lopt::runCompareCommand(const std::string &got, const std::string &ref,
                            double tolerance) {
  std::vector<data::NpzArray> a, b;
  if (data::Status s = data::readNpz(got, a); !s)
    return commandError("compare", s.message());
  if (data::Status s = data::readNpz(ref, b); !s)
    return commandError("compare", s.message());
  double worst = 0;
  std::string worstName;
  bool ok = true;
  for (const data::NpzArray &r : b) {
    const data::NpzArray *g = nullptr;
    for (const data::NpzArray &x : a)
      if (x.name == r.name)
        g = &x;
    if (!g || g->shape != r.shape) {
      llvm::errs() << "loptc compare: error: '" << r.name << "' "
                   << shapeToString(r.shape) << " of " << ref
                   << (g ? " has shape " + shapeToString(g->shape)
                         : std::string(" is missing"))
                   << " in " << got << "\n";
      ok = false;
      continue;
    }
    std::vector<double> gv = values(*g), rv = values(r);
    double scale = 0, err = 0;
    for (size_t i = 0; i < rv.size(); ++i) {
      scale = std::max(scale, std::fabs(rv[i]));
      double d = std::fabs(gv[i] - rv[i]);
      err = std::isnan(d) ? INFINITY : std::max(err, d);
    }
    double rel = scale > 0 ? err / scale : err;
    printLine("%-40s %-16s max |diff| %.3e  relative %.3e%s", r.name.c_str(),
              shapeToString(r.shape).c_str(), err, rel,
              rel > tolerance ? "  FAIL" : "");
    if (rel > tolerance)
      ok = false;
    if (rel >= worst) {
      worst = rel;
      worstName = r.name;
    }
  }
  printLine("%s: worst relative difference %.3e (%s), tolerance %.1e",
            ok ? "PASS" : "FAIL", worst, worstName.c_str(), tolerance);
  return ok ? 0 : 1;
}
