//===- CpuSchedule.cpp - how kernels run on a CPU -------------------------===//
//
// The schedule half of every kernel (the algorithm is HalideLowering.cpp):
// each stored stage is vectorised along its innermost dimension at the
// target's natural float width and runs its outermost dimension in
// parallel, in chunks, when it has enough elements to pay for the threads;
// sums (update definitions) keep their accumulators in registers, with the
// reuse hints of the lowering (scheduleSum). Shapes are static, so every
// decision is made here at compile time.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Vectors along `v` (the innermost dimension, `extent` long). A partial
/// last vector is guarded, not shifted inwards: Halide 14 misjudges the
/// alignment of strided loads in a shifted tail (a crash seen here).
void vectorizeInner(Func f, const Var &v, int64_t extent, int lanes) {
  f.vectorize(v, lanes,
              extent % lanes ? TailStrategy::GuardWithIf
                             : TailStrategy::ShiftInwards);
}

/// A sum into its own buffer (f = init; f += term over an RDom): vectors
/// along the innermost pure dimension with the reduction loops right
/// inside them, so the accumulators stay in registers; threads over the
/// outermost pure dimensions. A sum over the coordinates of a mapped kernel
/// (`domainOutside`) walks its domain once, outside all pure loops but the
/// threads' chunks, so every term is read once and the accumulators stay
/// in cache.
void scheduleSum(Func f, const Shape &shape, int lanes, bool domainOutside,
                 const std::vector<std::pair<int, int>> &reuse) {
  std::vector<Var> vars = f.args(); // innermost first
  int64_t inner = shape.back(), outer = shape.front();
  Stage u = f.update();
  auto tail = [](int64_t extent, int64_t factor) {
    return extent % factor ? TailStrategy::GuardWithIf : TailStrategy::Auto;
  };
  std::vector<VarOrRVar> order;
  Var vi("vi"), lo("lo"), li("li"), fused("fused");
  bool vectorize = inner >= lanes;
  if (vectorize) {
    vectorizeInner(f, vars[0], inner, lanes);
    u.split(vars[0], vars[0], vi, lanes, tail(inner, lanes));
    order.push_back(vi);
  }
  // Reused dimensions: blocked, unrolled, right inside the vectors.
  std::vector<Var> blocked;
  for (auto [dim, block] : reuse) {
    int h = int(shape.size()) - 1 - dim; // Halide's index
    Var v = vars[h];
    if (block > 0 && shape[dim] > block) {
      Var bi(v.name() + "_b");
      u.split(v, v, bi, block);
      order.push_back(bi);
      u.unroll(bi);
    } else {
      order.push_back(v);
      u.unroll(v);
      blocked.push_back(v);
    }
  }
  std::vector<RVar> rvars = f.rvars(0);
  if (!domainOutside)
    order.insert(order.end(), rvars.begin(), rvars.end());
  // Short reduction loops innermost are unrolled, so the accumulators stay
  // in registers across them.
  if (!domainOutside)
    unrollShortReductions(f);
  // Whole blocked dimensions appear once, above.
  auto isBlocked = [&](const Var &v) {
    for (const Var &b : blocked)
      if (b.name() == v.name())
        return true;
    return false;
  };
  if (vars.size() >= 3 && !domainOutside) {
    // The two outermost dimensions (batch and channels) share the threads;
    // when the channels are unrolled whole (a reused dimension no longer
    // than its block), the batch alone.
    Var channels = vars[vars.size() - 2], outermost = vars.back();
    for (size_t d = 0; d + 2 < vars.size(); ++d)
      if (!isBlocked(vars[d]))
        order.push_back(vars[d]);
    if (isBlocked(channels)) {
      order.push_back(outermost);
    } else {
      u.fuse(channels, outermost, fused);
      order.push_back(fused);
      outermost = fused;
    }
    u.reorder(order);
    if (vectorize)
      u.vectorize(vi);
    u.parallel(outermost);
    return;
  }
  // Chunks of the outermost dimension (in vectors when it is the
  // vectorised one) for the threads.
  int64_t units = vars.size() == 1 && vectorize ? (outer + lanes - 1) / lanes
                                                : outer;
  int64_t chunk = (units + 7) / 8;
  bool parallel = !vars.empty() && units >= 2;
  for (size_t d = 0; d + 1 < vars.size(); ++d)
    if (!isBlocked(vars[d]))
      order.push_back(vars[d]);
  if (parallel) {
    u.split(vars.back(), lo, li, int(chunk), tail(units, chunk));
    order.push_back(li);
  } else if (!vars.empty()) {
    order.push_back(vars.back());
  }
  if (domainOutside)
    order.insert(order.end(), rvars.begin(), rvars.end());
  if (parallel)
    order.push_back(lo);
  u.reorder(order);
  if (vectorize)
    u.vectorize(vi);
  if (parallel)
    u.parallel(lo);
}

/// Stages smaller than this run on one thread.
constexpr int64_t kParallelElements = 8192;
/// Parallel work is cut into about this many chunks (a few per thread).
constexpr int64_t kChunks = 16;
} // namespace

bool hasInlineReduction(const Func &f) {
  struct Finder : Internal::IRVisitor {
    bool found = false;
    using IRVisitor::visit;
    void visit(const Internal::Call *c) override {
      if (c->call_type == Internal::Call::Halide && c->func.defined() &&
          Internal::Function(c->func).has_update_definition())
        found = true;
      IRVisitor::visit(c);
    }
  } finder;
  for (const Expr &e : f.function().definition().values())
    e.accept(&finder);
  return finder.found;
}

void unrollShortReductions(Func f, int64_t maxTerms) {
  int64_t terms = 1;
  for (const Internal::ReductionVariable &rv :
       f.function().update(0).schedule().rvars()) {
    const int64_t *extent = Internal::as_const_int(Internal::simplify(rv.extent));
    if (!extent || terms * *extent > maxTerms)
      break;
    f.update().unroll(RVar(rv.var));
    terms *= *extent;
  }
}

void scheduleForCpu(const KernelGraph &, LoweredKernel &k,
                    const Target &target) {
  int lanes = target.natural_vector_size<float>();
  auto isOutput = [&](const Func &f) {
    for (const Func &o : k.outputs)
      if (o.name() == f.name())
        return true;
    return false;
  };
  for (auto &[f, shape] : k.stages) {
    if (shape.empty())
      continue;
    std::vector<Var> vars = f.args(); // innermost first
    int64_t inner = shape.back(), outer = shape.front();
    // A stored stage is computed whole, even where its consumers read only
    // part of it (a slice): so its extents are static, and the vectors
    // below never reach outside them.
    for (size_t d = 0; d < vars.size(); ++d)
      f.bound(vars[d], 0, int(shape[shape.size() - 1 - d]));
    // Halide 14 on x86 reads small stack buffers with 32-byte-aligned
    // vector loads without aligning them (crashes seen here): stored stages
    // live on the heap, and a stage is not vectorised around an inline
    // reduction, whose vector accumulator would be such a stack buffer.
    // Stored stages also get their innermost extent rounded up to whole
    // vectors: Halide 14 sometimes writes a guarded vector tail in full
    // (seen here: 88 floats stored into an 81-float buffer, a heap
    // corruption). Outputs are exact; their tails stay guarded.
    if (!isOutput(f)) {
      f.store_in(MemoryType::Heap);
      if (inner >= lanes)
        f.align_storage(vars[0], lanes);
    }
    if (f.has_update_definition()) {
      auto reuse = k.reuse.find(f.name());
      scheduleSum(f, shape, lanes, k.coordinateSums.count(f.name()) > 0,
                  reuse == k.reuse.end() ? std::vector<std::pair<int, int>>{}
                                         : reuse->second);
      continue;
    }
    if (inner >= lanes && !hasInlineReduction(f))
      vectorizeInner(f, vars[0], inner, lanes);
    if (numElements(shape) < kParallelElements)
      continue;
    Var o = vars.back();
    if (shape.size() == 1) {
      // The vectorised dimension itself (o now counts whole vectors).
      int64_t chunk = std::max<int64_t>(1, outer / lanes / kChunks);
      Var po("po"), pi("pi");
      f.split(o, po, pi, int(chunk)).parallel(po);
    } else if (outer >= 2 * kChunks) {
      Var po("po"), pi("pi");
      f.split(o, po, pi, int((outer + kChunks - 1) / kChunks)).parallel(po);
    } else {
      f.parallel(o);
    }
  }
}

} // namespace lopt::codegen
