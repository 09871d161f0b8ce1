//===- CompareCommand.cpp - loptc compare: two .npz files agree -----------===//
//
// The oracle of compiled code: every array of the reference .npz (say
// `loptc episode --dump`, the interpreter) must be in the other (a
// compiled binary's `episode --dump`) with the same shape, and its largest
// difference, relative to the reference's largest magnitude, at most the
// tolerance. Prints one line per array and the worst; exits 1 on failure.
//
// With --exact (the same run in double precision, `loptc episode
// --precision double`), an array also passes when it is no further from the
// exact values than 10 times the reference is: where a cell amplifies float
// rounding itself (Adam's m / (sqrt(v) + eps) on a gradient that is zero
// but for rounding, as a conv bias before batch norm has), the float
// interpreter and compiled code are both that far from exact, in different
// directions.
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

const data::NpzArray *find(const std::vector<data::NpzArray> &arrays,
                           const std::string &name) {
  for (const data::NpzArray &x : arrays)
    if (x.name == name)
      return &x;
  return nullptr;
}
} // namespace

int lopt::runCompareCommand(const std::string &got, const std::string &ref,
                            const std::string &exactPath, double tolerance) {
  std::vector<data::NpzArray> a, b, exact;
  if (data::Status s = data::readNpz(got, a); !s)
    return commandError("compare", s.message());
  if (data::Status s = data::readNpz(ref, b); !s)
    return commandError("compare", s.message());
  if (!exactPath.empty())
    if (data::Status s = data::readNpz(exactPath, exact); !s)
      return commandError("compare", s.message());
  double worst = 0;
  std::string worstName;
  bool ok = true;
  for (const data::NpzArray &r : b) {
    const data::NpzArray *g = find(a, r.name);
    const data::NpzArray *e = exactPath.empty() ? nullptr : find(exact, r.name);
    if (!exactPath.empty() && (!e || e->shape != r.shape)) {
      llvm::errs() << "loptc compare: error: '" << r.name << "' of " << ref
                   << " is not in " << exactPath << " with that shape\n";
      ok = false;
      continue;
    }
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
    bool pass = rel <= tolerance;
    std::string note;
    if (!pass && e) {
      // Both against the exact values.
      std::vector<double> ev = values(*e);
      double errGot = 0, errRef = 0;
      for (size_t i = 0; i < ev.size(); ++i) {
        double dg = std::fabs(gv[i] - ev[i]), dr = std::fabs(rv[i] - ev[i]);
        errGot = std::isnan(dg) ? INFINITY : std::max(errGot, dg);
        errRef = std::isnan(dr) ? INFINITY : std::max(errRef, dr);
      }
      pass = errGot <= 10 * errRef + tolerance * scale;
      char buf[128];
      std::snprintf(buf, sizeof buf,
                    "  (from exact: %.3e, the reference %.3e)", errGot,
                    errRef);
      note = buf;
    }
    printLine("%-40s %-16s max |diff| %.3e  relative %.3e%s%s", r.name.c_str(),
              shapeToString(r.shape).c_str(), err, rel, note.c_str(),
              pass ? "" : "  FAIL");
    if (!pass)
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
