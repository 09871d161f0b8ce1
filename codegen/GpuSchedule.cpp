//===- GpuSchedule.cpp - how kernels run on a GPU -------------------------===//
//
// The GPU half of every kernel's schedule (the algorithm is
// HalideLowering.cpp, the CPU schedule CpuSchedule.cpp). Every stored
// stage runs on the device, so that buffers never travel to the host inside
// an episode. Each stage computed at root is one kernel launch, and on a
// GPU a launch (a few microseconds) and a round trip of a buffer through
// global memory cost more than recomputing a few arithmetic operations, so:
// - a stage the algorithm stores that is cheap to recompute (no sum in it,
//   at most kRecomputeCost operations per element counting the cheap
//   stages it reads in turn) is not stored: it is computed wherever it is
//   read (inlined). In a mapped cell this merges most per-coordinate
//   element-wise stages into the sums and outputs that read them;
// - an element-wise stage: its dimensions fused into one, in blocks of 256
//   threads, one element per thread (neighbouring threads write
//   neighbouring elements);
// - a sum (an update definition): the same blocks over a wrapper of the
//   sum (or over the output that copies it, when nothing else reads it),
//   each thread computing its element's whole sum in registers
//   (lowered forGpu, sums are never outputs, whose storage would be the
//   global buffer; and long sums into few results, such as batch-norm
//   statistics or a sum over the tens of thousands of coordinates of a
//   mapped cell, are taken in two levels, each a stage of its own);
// - a scalar: one thread, a scalar sum inside it.
// The schedule names no GPU API (Halide's Default_GPU): the same kernels
// compile for CUDA and for OpenCL, which runs on the CPU (pocl) where no
// NVIDIA GPU is at hand, so tests check these schedules on any machine.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"

#include <limits>
#include <map>
#include <set>

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Threads per block.
constexpr int64_t kThreads = 256;

/// The most IR operations per element of a stage computed where it is read
/// instead of stored (with those of the cheap stages it reads in turn).
constexpr int64_t kRecomputeCost = 96;

/// Decides which stages the algorithm stores are computed where they are
/// read instead: those neither an output nor a sum whose element costs at
/// most kRecomputeCost operations. An element's cost: its definition's IR
/// nodes, and for each read of another Func the cost of that read: 1 (a
/// load) for a stored stage, the Func's own cost for one computed in
/// place; an inline reduction (a sum inside a definition) is never
/// recomputed.
class Recompute {
public:
  explicit Recompute(const LoweredKernel &k) {
    for (auto &[f, shape] : k.stages)
      if (!f.has_update_definition())
        candidates[f.name()] = f;
    for (const Func &o : k.outputs)
      candidates.erase(o.name());
  }

  /// Inlines every candidate cheap enough; returns their names.
  std::set<std::string> run() {
    for (auto &[name, f] : candidates)
      cost(f.function());
    return inlined;
  }

private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max() / 4;

  /// Counts IR nodes, adding the cost of each Func read.
  struct Counter : Internal::IRGraphVisitor {
    explicit Counter(Recompute &r) : r(r) {}
    Recompute &r;
    int64_t total = 0;
    using IRGraphVisitor::include;
    using IRGraphVisitor::visit;
    void include(const Expr &e) override {
      total = std::min(kNever, total + 1);
      IRGraphVisitor::include(e);
    }
    void visit(const Internal::Call *c) override {
      if (c->call_type == Internal::Call::Halide && c->func.defined())
        total = std::min(kNever, total + r.cost(Internal::Function(c->func)));
      IRGraphVisitor::visit(c);
    }
  };

  /// The cost of reading one element of `fn`.
  int64_t cost(const Internal::Function &fn) {
    auto known = memo.find(fn.name());
    if (known != memo.end())
      return known->second;
    LoopLevel level = fn.schedule().compute_level(); // a copy, to inspect
    bool inPlace = level.lock().is_inlined();
    if (fn.has_update_definition())
      return memo[fn.name()] = inPlace ? kNever : 1;
    auto candidate = candidates.find(fn.name());
    if (candidate == candidates.end() && !inPlace)
      return memo[fn.name()] = 1; // an output
    Counter counter(*this);
    for (const Expr &e : fn.definition().values())
      counter.include(e);
    if (candidate == candidates.end())
      return memo[fn.name()] = counter.total; // inlined by the algorithm
    if (getenv("LOPT_DEBUG_COST")) fprintf(stderr, "cost %s %lld\n", fn.name().c_str(), (long long)counter.total);
    if (counter.total > kRecomputeCost)
      return memo[fn.name()] = 1;
    candidate->second.compute_inline();
    inlined.insert(fn.name());
    return memo[fn.name()] = counter.total;
  }

  std::map<std::string, Func> candidates;
  std::map<std::string, int64_t> memo;
  std::set<std::string> inlined;
};

/// Fuses the dimensions of `s` (`elements` in all) into one and splits it
/// into blocks of threads. Returns the thread variable. (Short names: a GPU
/// kernel is named after its loops, and pocl fails on long kernel names.)
Var flatBlocks(Func s, int64_t elements) {
  std::vector<Var> vars = s.args(); // innermost first
  Var flat = vars[0];
  for (size_t d = 1; d < vars.size(); ++d) {
    Var fused("f" + std::to_string(d));
    s.fuse(flat, vars[d], fused);
    flat = fused;
  }
  int64_t threads = std::min(kThreads, elements);
  Var block("b"), thread("t");
  s.gpu_tile(flat, block, thread, int(threads),
             elements % threads ? TailStrategy::GuardWithIf
                                : TailStrategy::Auto);
  return thread;
}

/// A stored stage is computed whole, with static extents (as on the CPU).
void boundAll(Func f, const Shape &shape) {
  std::vector<Var> vars = f.args();
  for (size_t d = 0; d < vars.size(); ++d)
    f.bound(vars[d], 0, int(shape[shape.size() - 1 - d]));
}

/// Returns the thread variable (a scalar's: one block of one thread).
Var scheduleElementwise(Func f, const Shape &shape) {
  if (shape.empty()) {
    Var block("b"), thread("t");
    f.split(Var::outermost(), block, thread, 1)
        .gpu_blocks(block)
        .gpu_threads(thread);
    return thread;
  }
  boundAll(f, shape);
  return flatBlocks(f, numElements(shape));
}

/// Computes the sum `f` inside each thread of `consumer` (its storage a
/// register), short reduction loops unrolled, as on the CPU.
void sumInThread(Func f, Func consumer, const Var &thread) {
  f.compute_at(consumer, thread);
  unrollShortReductions(f);
}

/// A sum with one thread per result element: the threads run over a
/// wrapper that every consumer reads, the sum itself is computed inside
/// each thread.
void scheduleSum(Func f, const Shape &shape) {
  Func w = f.in();
  w.compute_root();
  sumInThread(f, w, scheduleElementwise(w, shape));
}

} // namespace

void scheduleForGpu(const KernelGraph &, LoweredKernel &k, const Target &) {
  std::map<std::string, Func> byName;
  for (auto &[f, shape] : k.stages)
    byName[f.name()] = f;
  std::set<std::string> done = Recompute(k).run();
  // An output copying a sum that nothing else reads: one kernel, the sum
  // computed in the copy's threads.
  for (auto &[f, shape] : k.stages) {
    auto copied = k.copiedSums.find(f.name());
    if (copied == k.copiedSums.end())
      continue;
    sumInThread(byName.at(copied->second), f, scheduleElementwise(f, shape));
    done.insert(f.name());
    done.insert(copied->second);
  }
  for (auto &[f, shape] : k.stages) {
    if (done.count(f.name()))
      continue;
    if (f.has_update_definition())
      scheduleSum(f, shape);
    else
      scheduleElementwise(f, shape);
  }
}

} // namespace lopt::codegen
