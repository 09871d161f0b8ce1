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
//   element-wise stages into the sums and outputs that read them. Not
//   the stages the lowering keeps stored (keptStored): a small weight it
//   lays out transposed (an LSTM's shared weight: in place, neighbouring
//   threads would load it from rows apart), and a weight gradient's dy
//   (in place, every input channel's threads would compute it again);
//   and not those whose readers, all together, would evaluate each
//   element so many times over that they repeat at least kFanOutSaving
//   divisions and exponentials per element (a cell VJP's gates, read by
//   the 4 gate derivatives and the weight gradient's sums);
// - an element-wise stage: its dimensions fused into one, in blocks of 256
//   threads, one element per thread (neighbouring threads write
//   neighbouring elements; the last block shifted back to end at the last
//   element);
// - a sum (an update definition): the same blocks over a wrapper of the
//   sum (or over the output that copies it, when nothing else reads it),
//   each thread computing its element's whole sum in registers
//   (lowered forGpu, sums are never outputs, whose storage would be the
//   global buffer; and long sums into few results, such as batch-norm
//   statistics or a sum over the tens of thousands of coordinates of a
//   mapped cell, are taken in levels of short sums, each a stage of its
//   own; a sum's loop longer than 32 terms is unrolled by 8, so that a
//   thread has 8 loads in flight);
// - a sum whose term reuses a loaded value across some of its dimensions
//   (the lowering's reuse hints: convolutions, for a weight gradient its
//   whole window, a cell's input gradient over a weight every coordinate
//   shares): each thread computes a block of results along those,
//   unrolled (scheduleBlockedSum), or a vector where only the innermost
//   dimension is blocked (the input gradient);
// - a scalar: one thread, a scalar sum inside it;
// - stages that do not read one another and have as many elements, or
//   are small (kSmallStage): one kernel launch (kernelsByLevel), but for
//   scalars and stages of several dimensions with a sum inside their
//   threads.
// The schedule names no GPU API (Halide's Default_GPU): the same kernels
// compile for CUDA and for OpenCL, which runs on the CPU (pocl) where no
// NVIDIA GPU is at hand, so tests check these schedules on any machine.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"

#include <functional>
#include <limits>
#include <map>
#include <set>

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Threads per block.
constexpr int64_t kThreads = 256;

/// Stages of at most this many elements (threads) that do not read one
/// another share a launch whatever their sizes (kernelsByLevel): such a
/// launch is mostly its fixed cost. Larger ones share a launch only with
/// stages of their own size: a small stage's registers (a sum in double,
/// a long unrolled chain) would cut the threads resident per SM for a
/// large stage that needs them to stream its buffers.
constexpr int64_t kSmallStage = 65536;

/// The most IR operations per element of a stage computed where it is read
/// instead of stored (with those of the cheap stages it reads in turn).
constexpr int64_t kRecomputeCost = 96;
/// A stage of at least kLargeStage elements is recomputed up to this cost:
/// stored, it is a device allocation as large as a layer's activations,
/// beside the planned arena. The first layer's masked gradient in the
/// query's backward (141 operations) and its batch-norm gradient inside
/// the weight gradient that reads it (251: the maximum's window offset,
/// the pooled gradient and the activation read, the rest per-channel
/// values a thread's loop holds, and the index arithmetic) would each be
/// 64.6 MiB.
constexpr int64_t kLargeStage = int64_t(1) << 22;
constexpr int64_t kRecomputeCostLarge = 3 * kRecomputeCost;
/// A stage computed in place is stored after all where that saves, per
/// element, at least this many divisions and exponentials (or other
/// transcendental calls) that its readers would repeat: a value read by
/// many threads, or by many terms of a sum (in a mapped cell's VJP, the
/// gates recomputed by each of a coordinate's 44 weight-gradient sums and
/// 4 gate derivatives: up to 91 sigmoids a coordinate, where one does).
constexpr double kFanOutSaving = 8;
/// ... unless it is smaller than this (a per-channel value: a launch of
/// its own for a few divisions), or of kLargeStage elements or more (as
/// large as a layer's activations).
constexpr int64_t kFanOutMinElements = 1024;

/// Decides which stages the algorithm stores are computed where they are
/// read instead: those neither an output, nor kept stored by the lowering
/// (LoweredKernel::keptStored), nor a sum, whose element costs at most
/// kRecomputeCost operations (kRecomputeCostLarge for a stage of
/// kLargeStage elements or more). An element's cost: its definition's IR
/// nodes, and for each read of another Func the cost of that read: 1 (a
/// load) for a stored stage, the Func's own cost for one computed in
/// place; an inline reduction (a sum inside a definition) is never
/// recomputed.
class Recompute {
public:
  explicit Recompute(const LoweredKernel &k) : stages(k.stages) {
    for (auto &[f, shape] : k.stages)
      if (!f.has_update_definition()) {
        candidates[f.name()] = f;
        if (numElements(shape) >= kLargeStage)
          large.insert(f.name());
      }
    for (const Func &o : k.outputs)
      candidates.erase(o.name());
    for (const std::string &t : k.keptStored)
      candidates.erase(t);
  }

  /// Inlines every candidate cheap enough, then stores again those whose
  /// readers would repeat the most expensive operations (fanOut); returns
  /// the names of those inlined.
  std::set<std::string> run() {
    for (auto &[name, f] : candidates)
      cost(f.function());
    fanOut();
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
    if (counter.total >
        (large.count(fn.name()) ? kRecomputeCostLarge : kRecomputeCost))
      return memo[fn.name()] = 1;
    candidate->second.compute_inline();
    inlined.insert(fn.name());
    return memo[fn.name()] = counter.total;
  }

  /// Divisions in floating point and calls of transcendental functions
  /// (exp_f32, log_f32, sqrt_f32, ...) in `fn`'s definition (not those of
  /// the Funcs it reads).
  static int64_t expensiveOps(const Internal::Function &fn) {
    struct Count : Internal::IRGraphVisitor {
      using IRGraphVisitor::visit;
      int64_t n = 0;
      void visit(const Internal::Div *d) override {
        n += d->type.is_float();
        IRGraphVisitor::visit(d);
      }
      void visit(const Internal::Call *c) override {
        if (c->call_type == Internal::Call::PureExtern && c->type.is_float()) {
          // (a)tan_f32, exp_f32, ...; not floor, ceil, round, abs...
          std::string f = c->name[0] == 'a' ? c->name.substr(1) : c->name;
          for (const char *t : {"exp", "log", "pow", "sqrt", "tan", "sin", "cos", "erf"})
            if (f.rfind(t, 0) == 0) {
              ++n;
              break;
            }
        }
        IRGraphVisitor::visit(c);
      }
    } count;
    for (const Expr &e : fn.definition().values())
      e.accept(&count);
    return count.n;
  }

  /// How many times the stored stages evaluate each element of each Func
  /// computed in place, over the whole kernel: per element of a stored
  /// stage, its definition once and each update once per point of its
  /// reduction domain, each Func read in place once per call (a common
  /// subexpression once) and whatever it reads in turn.
  std::map<std::string, double> evaluations() {
    std::map<std::string, std::map<std::string, double>> per; // memo
    std::function<const std::map<std::string, double> &(const Internal::Function &)>
        of = [&](const Internal::Function &fn) -> const std::map<std::string, double> & {
      auto known = per.find(fn.name());
      if (known != per.end())
        return known->second;
      std::map<std::string, double> total;
      auto add = [&](const Internal::Definition &d, double times) {
        struct Calls : Internal::IRGraphVisitor {
          using IRGraphVisitor::visit;
          std::vector<Internal::Function> callees;
          void visit(const Internal::Call *c) override {
            if (c->call_type == Internal::Call::Halide && c->func.defined())
              callees.push_back(Internal::Function(c->func));
            IRGraphVisitor::visit(c);
          }
        } calls;
        for (const Expr &e : d.values())
          e.accept(&calls);
        for (const Expr &e : d.args())
          e.accept(&calls);
        for (const Internal::Function &callee : calls.callees) {
          LoopLevel level = callee.schedule().compute_level();
          if (callee.name() == fn.name() || !level.lock().is_inlined())
            continue; // the sum's own accumulator, or a stored stage: a load
          total[callee.name()] += times;
          for (auto &[n, e] : of(callee))
            total[n] += times * e;
        }
      };
      add(fn.definition(), 1);
      for (const Internal::Definition &u : fn.updates()) {
        double points = 1;
        for (const Internal::ReductionVariable &r : u.schedule().rvars())
          if (const int64_t *e = Internal::as_const_int(Internal::simplify(r.extent)))
            points *= double(*e);
        add(u, points);
      }
      return per[fn.name()] = std::move(total);
    };
    std::map<std::string, double> total;
    for (auto &[f, shape] : stages)
      if (!inlined.count(f.name()))
        for (auto &[n, e] : of(f.function()))
          total[n] += e * double(numElements(shape));
    return total;
  }

  /// Stores again, one at a time (each changes how often the others are
  /// evaluated), the inlined stage whose readers repeat the most
  /// divisions and transcendental calls per element, while that is at
  /// least kFanOutSaving.
  void fanOut() {
    // Those that may be stored again: elements, expensive operations.
    std::map<std::string, std::pair<int64_t, int64_t>> sized;
    for (auto &[f, shape] : stages)
      if (inlined.count(f.name()) && numElements(shape) >= kFanOutMinElements &&
          numElements(shape) < kLargeStage)
        if (int64_t ops = expensiveOps(f.function()))
          sized[f.name()] = {numElements(shape), ops};
    while (true) {
      std::map<std::string, double> evals = evaluations();
      std::string best;
      double most = kFanOutSaving;
      for (auto &[name, eo] : sized) {
        auto e = evals.find(name);
        double saving = e == evals.end() ? 0
            : (e->second / double(eo.first) - 1) * double(eo.second);
        if (saving >= most) {
          best = name;
          most = saving;
        }
      }
      if (best.empty())
        return;
      candidates.at(best).compute_root();
      inlined.erase(best);
      sized.erase(best);
    }
  }

  const std::vector<std::pair<Func, Shape>> &stages;
  std::map<std::string, Func> candidates;
  std::set<std::string> large; // candidates of kLargeStage elements or more
  std::map<std::string, int64_t> memo;
  std::set<std::string> inlined;
};

/// Fuses the loops `vars` of `s` (innermost first, `elements` iterations in
/// all) into one and splits it into blocks of kThreads threads. Returns
/// the thread variable. Stages
/// fused into one kernel must name their loops alike, and Halide names a
/// loop after the chain of fuses and renames that made it: every stage of
/// a kernel makes `dims` - 1 links (`dims`: the most dimensions among
/// them), fusing while it has dimensions left and renaming after, the last
/// named "i". (Short names: a GPU kernel is named after its loops, and pocl
/// fails on long kernel names.) `guarded`: see scheduleElementwise.
/// `threads`: per block, the kernel's (its largest stage's) where stages
/// of several sizes share it; a stage with fewer elements is guarded.
Var flatBlocks(Func s, const std::vector<Var> &vars, int64_t elements,
               size_t dims, bool guarded, int64_t threads = 0) {
  Var flat = vars[0];
  size_t links = std::max<size_t>(dims, 2) - 1;
  for (size_t d = 1; d <= links; ++d) {
    Var next(d == links ? "i" : "f" + std::to_string(d));
    if (d < vars.size())
      s.fuse(flat, vars[d], next);
    else
      s.rename(flat, next);
    flat = next;
  }
  Var block("b"), thread("t");
  // The last block shifted back to end at the last element (it recomputes
  // some of its neighbour's): a guard would leave Halide's bounds of the
  // Funcs computed inside the threads past the end in a fused kernel.
  if (!threads)
    threads = std::min(kThreads, elements);
  s.gpu_tile(flat, block, thread, int(threads),
             guarded || elements < threads ? TailStrategy::GuardWithIf
             : elements % threads ? TailStrategy::ShiftInwards
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
/// `dims`: as flatBlocks'. `guarded`: the last block of threads guarded,
/// for a kernel of this stage alone with a sum inside its threads: shifted
/// inwards, Halide 14 no longer bounds a sum computed inside a thread (an
/// inline one: max-pooling's argmax) to the thread's point and gives each
/// thread a buffer of a whole image plane (seen in the OpenCL C:
/// `float _argmax__11_2_2[56448]`, which LLVM removes for CUDA).
Var scheduleElementwise(Func f, const Shape &shape, size_t dims, bool guarded,
                        int64_t threads = 0) {
  if (shape.empty()) {
    Var block("b"), thread("t");
    f.split(Var::outermost(), block, thread, 1)
        .gpu_blocks(block)
        .gpu_threads(thread);
    return thread;
  }
  boundAll(f, shape);
  return flatBlocks(f, f.args(), numElements(shape), dims, guarded, threads);
}

/// A sum whose term reuses one loaded value across some of its dimensions
/// (`reuse`, the lowering's hint: row-major dimension and block; a
/// convolution's input pixel serves every output channel, a weight every
/// output row): each thread of `loop` (the wrapper or the copy the sum is
/// computed in) computes a block of results, those dimensions cut into
/// blocks inside the thread and unrolled, the block's accumulators in
/// registers, so each value loaded serves the whole block. The other
/// dimensions are fused and cut into blocks of threads (flatBlocks), the
/// last one guarded (see scheduleElementwise). A dimension's block is the
/// largest up to its hint that divides it. Returns false (nothing
/// scheduled) when no dimension has a block of at least 2.
bool scheduleBlockedSum(Func loop, Func sum, const Shape &shape,
                        const std::vector<std::pair<int, int>> &reuse) {
  std::map<size_t, int64_t> blockOf; // Halide index (innermost first) -> block
  for (auto [dim, hint] : reuse) {
    int64_t extent = shape[size_t(dim)];
    // The largest block up to the hint that divides the extent. (A hint of
    // 0, the CPU's "whole dimension", is not for a GPU: a weight
    // gradient's window there is blocked by its extent.)
    int64_t block = largestDivisor(extent, hint);
    if (block > 1)
      blockOf[shape.size() - 1 - size_t(dim)] = block;
  }
  if (blockOf.empty())
    return false;
  boundAll(loop, shape);
  std::vector<Var> vars = loop.args(), sumVars = sum.args(); // innermost first
  std::vector<VarOrRVar> order;
  std::vector<Var> inside, outside;
  int64_t elements = 1;
  for (size_t h = 0; h < vars.size(); ++h) {
    int64_t extent = shape[shape.size() - 1 - h];
    auto blocked = blockOf.find(h);
    if (blocked == blockOf.end()) {
      outside.push_back(vars[h]);
      elements *= extent;
    } else {
      Var o("o" + std::to_string(h)), i("n" + std::to_string(h));
      loop.split(vars[h], o, i, int(blocked->second));
      inside.push_back(i);
      outside.push_back(o);
      elements *= extent / blocked->second;
    }
  }
  // Where only the innermost dimension is blocked, not the next (a cell's
  // input gradient: blocks of b columns per coordinate), the block is a
  // vector (paired loads and stores: Halide's CUDA vectors are 8 bytes);
  // other blocks are unrolled. Neighbouring threads take neighbouring
  // blocks.
  bool vectorBlock = blockOf.count(0) && !blockOf.count(1) && blockOf[0] % 2 == 0;
  order.insert(order.end(), inside.begin(), inside.end());
  order.insert(order.end(), outside.begin(), outside.end());
  loop.reorder(order);
  Var thread = flatBlocks(loop, outside, elements, outside.size(), true);
  for (size_t i = 0; i < inside.size(); ++i)
    if (vectorBlock && i == 0)
      loop.vectorize(inside[i]);
    else
      loop.unroll(inside[i]);
  // The block's sums in each thread: the accumulators innermost, inside
  // the reduction loops (the short ones unrolled).
  sum.compute_at(loop, thread);
  Stage u = sum.update();
  std::vector<VarOrRVar> sumOrder;
  for (auto &[h, b] : blockOf) {
    if (vectorBlock && h == 0) {
      sum.vectorize(sumVars[h]);
      u.vectorize(sumVars[h]);
    } else {
      sum.unroll(sumVars[h]);
      u.unroll(sumVars[h]);
    }
    sumOrder.push_back(sumVars[h]);
  }
  for (const RVar &r : sum.rvars(0))
    sumOrder.push_back(r);
  for (size_t h = 0; h < sumVars.size(); ++h)
    if (!blockOf.count(h))
      sumOrder.push_back(sumVars[h]);
  u.reorder(sumOrder);
  unrollShortReductions(sum);
  return true;
}

/// Computes the sum `f` inside each thread of `consumer` (its storage a
/// register), short reduction loops unrolled, as on the CPU; a longer
/// single loop by 8 (the levels of a long sum: 8 loads in flight at once
/// rather than one, each waiting for global memory).
void sumInThread(Func f, Func consumer, const Var &thread) {
  f.compute_at(consumer, thread);
  unrollShortReductions(f);
  const std::vector<Internal::ReductionVariable> &rvars =
      f.function().update(0).schedule().rvars();
  const int64_t *extent =
      rvars.size() == 1 ? Internal::as_const_int(Internal::simplify(rvars[0].extent))
                        : nullptr;
  if (extent && *extent > 32 && *extent % 8 == 0) {
    RVar outer("uo"), inner("ui");
    f.update().split(RVar(rvars[0].var), outer, inner, 8).unroll(inner);
  }
}

/// The stages (of `launched`, by name) whose stored values `fn` reads,
/// looking through the Funcs computed where they are read.
void storedReads(const Internal::Function &fn,
                 const std::map<std::string, Func> &launched,
                 std::set<std::string> &reads, std::set<std::string> &seen) {
  struct Walk : Internal::IRVisitor {
    using IRVisitor::visit;
    std::vector<Internal::Function> inPlace;
    const std::map<std::string, Func> *launched;
    std::set<std::string> *reads, *seen;
    void visit(const Internal::Call *c) override {
      if (c->call_type == Internal::Call::Halide && c->func.defined()) {
        if (launched->count(c->name))
          reads->insert(c->name);
        else if (seen->insert(c->name).second)
          inPlace.push_back(Internal::Function(c->func));
      }
      IRVisitor::visit(c);
    }
  } walk;
  walk.launched = &launched;
  walk.reads = &reads;
  walk.seen = &seen;
  std::vector<Internal::Definition> defs = {fn.definition()};
  for (const Internal::Definition &u : fn.updates())
    defs.push_back(u);
  for (const Internal::Definition &d : defs) {
    for (const Expr &e : d.values())
      e.accept(&walk);
    for (const Expr &e : d.args())
      e.accept(&walk);
  }
  for (const Internal::Function &f : walk.inPlace)
    storedReads(f, launched, reads, seen);
}

/// Groups the launched stages (by name) into kernels: stages that do not
/// read one another's values and have as many elements, or are all small,
/// run in one kernel (Halide's compute_with: their loops fused into the
/// largest's, each stage guarded by its own extent). A stage's level is
/// one more than the highest of the stages it reads (0 when it reads only
/// arguments), or later, up to one below its first reader, where that joins
/// it to a kernel; the stages of one level and group (sizeKey) are one
/// kernel, the largest first, those of `alone` one each. `stages`:
/// the Func of each name whose definitions read (a sum's own, where
/// `launched` has its wrapper). Stages no output reads are left out (Halide
/// computes nothing for them).
std::vector<std::vector<std::string>>
kernelsByLevel(const std::map<std::string, Func> &launched,
               const std::map<std::string, Func> &stages,
               const std::map<std::string, Shape> &shapes,
               const std::vector<Func> &outputs,
               const std::set<std::string> &alone) {
  std::map<std::string, std::set<std::string>> reads, readers;
  for (auto &[name, loop] : launched) {
    std::set<std::string> seen;
    storedReads(stages.at(name).function(), launched, reads[name], seen);
    reads[name].erase(name);
  }
  std::set<std::string> live;
  std::vector<std::string> pending;
  for (const Func &o : outputs)
    pending.push_back(o.name());
  while (!pending.empty()) {
    std::string n = pending.back();
    pending.pop_back();
    if (live.insert(n).second)
      pending.insert(pending.end(), reads.at(n).begin(), reads.at(n).end());
  }
  for (const std::string &n : live)
    for (const std::string &r : reads.at(n))
      readers[r].insert(n);
  std::map<std::string, int> level;
  std::function<int(const std::string &)> levelOf = [&](const std::string &n) {
    auto known = level.find(n);
    if (known != level.end())
      return known->second;
    int l = 0;
    for (const std::string &r : reads.at(n))
      l = std::max(l, levelOf(r) + 1);
    return level[n] = l;
  };
  using Key = std::pair<int, int64_t>; // level, size group (sizeKey)
  std::map<Key, std::set<std::string>> groups;
  int top = 0;
  // The group of a stage at its level: small stages share one whatever
  // their sizes (kSmallStage; not a stage whose innermost loop is not
  // named d0, an argument's copy: Halide fuses only loops named alike),
  // larger ones one per size.
  auto sizeKey = [&](const std::string &n) {
    const Func &f = launched.at(n);
    bool d0 = f.dimensions() > 0 && f.args()[0].name() == "d0";
    int64_t elements = numElements(shapes.at(n));
    return d0 && elements <= kSmallStage ? int64_t(-1) : elements;
  };
  for (const std::string &n : live) {
    top = std::max(top, levelOf(n));
    if (!alone.count(n))
      groups[{levelOf(n), sizeKey(n)}].insert(n);
  }
  // Later levels first, so that readers have moved before what they read.
  std::vector<std::string> order(live.begin(), live.end());
  std::stable_sort(order.begin(), order.end(), [&](auto &a, auto &b) {
    return level.at(a) > level.at(b);
  });
  for (const std::string &n : order) {
    int64_t group = sizeKey(n);
    if (alone.count(n) || groups.at({level.at(n), group}).size() > 1)
      continue;
    int last = top;
    for (const std::string &r : readers[n])
      last = std::min(last, level.at(r) - 1);
    for (int l = level.at(n) + 1; l <= last; ++l)
      if (groups.count({l, group})) {
        groups.erase({level.at(n), group});
        groups[{l, group}].insert(n);
        level[n] = l;
        break;
      }
  }
  std::vector<std::vector<std::string>> kernels;
  for (const std::string &n : live)
    if (alone.count(n))
      kernels.push_back({n});
  // The largest stage first: the others' loops are fused into its loops.
  for (auto &[key, names] : groups) {
    std::vector<std::string> kernel(names.begin(), names.end());
    std::stable_sort(kernel.begin(), kernel.end(), [&](auto &a, auto &b) {
      return numElements(shapes.at(a)) > numElements(shapes.at(b));
    });
    kernels.push_back(kernel);
  }
  return kernels;
}

} // namespace

void scheduleForGpu(const KernelGraph &, LoweredKernel &k, const Target &) {
  std::map<std::string, Func> byName;
  for (auto &[f, shape] : k.stages)
    byName[f.name()] = f;
  std::set<std::string> inlined = Recompute(k).run();
  // Each launched stage (by name): the Func whose loops it runs in (a
  // sum's: a wrapper that every consumer reads, the sum computed inside
  // each of its threads; an output copying a sum that nothing else reads:
  // the copy, the sum inside its threads), its shape, and the sum inside.
  std::map<std::string, Func> launched, sumInside;
  std::map<std::string, Shape> shapes;
  std::set<std::string> copied;
  for (auto &[name, sum] : k.copiedSums)
    copied.insert(sum);
  for (auto &[f, shape] : k.stages) {
    if (inlined.count(f.name()) || copied.count(f.name()))
      continue;
    auto copiedSum = k.copiedSums.find(f.name());
    if (copiedSum != k.copiedSums.end()) {
      launched[f.name()] = f;
      sumInside[f.name()] = byName.at(copiedSum->second);
    } else if (f.has_update_definition()) {
      Func w = f.in();
      w.compute_root();
      launched[f.name()] = w;
      sumInside[f.name()] = f;
    } else {
      launched[f.name()] = f;
    }
    shapes[f.name()] = shape;
  }
  std::set<std::string> outputs;
  for (const Func &f : k.outputs)
    outputs.insert(f.name());
  k.deviceStageBytes = 0;
  for (auto &[name, loop] : launched)
    if (!outputs.count(name))
      k.deviceStageBytes +=
          (numElements(shapes.at(name)) * loop.output_types()[0].bytes() +
           kStageAlignment - 1) / kStageAlignment * kStageAlignment;
  // Launched alone: scalars (Halide 14 fails on fused scalar loops), and
  // stages of several dimensions with a sum inside their threads (their
  // own or an inline one; a stored sum they read is a load): fused, Halide
  // no longer sees that a thread needs the sum at one point and computes
  // it over whole dimensions (seen: 75 times the work, and pocl's stack
  // overflowed).
  std::set<std::string> alone;
  for (auto &[name, loop] : launched) {
    const Shape &shape = shapes.at(name);
    bool sumInThreads = sumInside.count(name) || hasInlineReduction(loop);
    if (shape.empty() || (shape.size() > 1 && sumInThreads))
      alone.insert(name);
  }
  for (const std::vector<std::string> &kernel :
       kernelsByLevel(launched, byName, shapes, k.outputs, alone)) {
    size_t dims = 1;
    for (const std::string &name : kernel)
      dims = std::max(dims, shapes.at(name).size());
    int64_t threads = std::min(kThreads, numElements(shapes.at(kernel.front())));
    for (const std::string &name : kernel) {
      Func loop = launched.at(name);
      auto reuse = sumInside.count(name) ? k.reuse.find(sumInside.at(name).name())
                                         : k.reuse.end();
      if (reuse != k.reuse.end() && kernel.size() == 1 &&
          scheduleBlockedSum(loop, sumInside.at(name), shapes.at(name), reuse->second))
        continue;
      Var thread = scheduleElementwise(loop, shapes.at(name), dims,
                                       kernel.size() == 1 && alone.count(name), threads);
      if (sumInside.count(name))
        sumInThread(sumInside.at(name), loop, thread);
      if (name != kernel.front())
        loop.compute_with(launched.at(kernel.front()), thread);
    }
  }
}

} // namespace lopt::codegen
