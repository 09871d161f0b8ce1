//===- CpuSchedule.cpp - how kernels run on a CPU -------------------------===//
//
// The schedule half of every kernel (the algorithm is HalideLowering.cpp):
// each stored stage is vectorised along its innermost dimension at the
// target's natural float width and runs its outermost dimension in
// parallel, in chunks, when it has enough elements to pay for the threads.
// Shapes are static, so every decision is made here at compile time.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Whether `f`'s definition calls an inline reduction (sum, maximum, ...),
/// which Halide computes in a small buffer inside f's innermost loop.
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

/// A sum into its own buffer (f = 0; f += term over an RDom): vectors
/// along the innermost pure dimension, the reduction inside them, threads
/// over the outermost pure dimension.
void scheduleSum(Func f, const Shape &shape, int lanes) {
  std::vector<Var> vars = f.args();
  int64_t inner = shape.back();
  Stage u = f.update();
  std::vector<VarOrRVar> order;
  if (inner >= lanes) {
    TailStrategy tail = inner % lanes ? TailStrategy::GuardWithIf
                                      : TailStrategy::ShiftInwards;
    f.vectorize(vars[0], lanes, tail);
    Var vi("vi");
    u.split(vars[0], vars[0], vi, lanes,
            inner % lanes ? TailStrategy::GuardWithIf : TailStrategy::Auto);
    order.push_back(vi);
  }
  for (const RVar &r : f.rvars(0))
    order.push_back(r);
  for (const Var &v : vars)
    order.push_back(v);
  u.reorder(order);
  if (inner >= lanes)
    u.vectorize(order.front().var);
  if (shape.size() >= 2 && shape.front() >= 2)
    u.parallel(vars.back());
}

/// Stages smaller than this run on one thread.
constexpr int64_t kParallelElements = 8192;
/// Parallel work is cut into about this many chunks (a few per thread).
constexpr int64_t kChunks = 16;
} // namespace

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
    if (!isOutput(f))
      f.store_in(MemoryType::Heap);
    if (f.has_update_definition()) {
      scheduleSum(f, shape, lanes);
      continue;
    }
    // A partial last vector is guarded, not shifted inwards: Halide 14
    // misjudges the alignment of strided loads in a shifted tail (another
    // crash seen here).
    if (inner >= lanes && !hasInlineReduction(f))
      f.vectorize(vars[0], lanes,
                  inner % lanes ? TailStrategy::GuardWithIf
                                : TailStrategy::ShiftInwards);
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
