//===- GpuSchedule.cpp - how kernels run on a GPU -------------------------===//
//
// The GPU half of every kernel's schedule (the algorithm is
// HalideLowering.cpp, the CPU schedule CpuSchedule.cpp). Every stored
// stage runs on the device, so that buffers never travel to the host inside
// an episode. Each stage computed at root is one kernel launch, and on a
// GPU a launch (a few microseconds) and a round trip of a buffer through
// global memory cost more than recomputing a few arithmetic operations, so:
// - a mapped cell with per-coordinate results runs a thread per
//   coordinate (threadPerCoordinate): one launch computes every
//   per-coordinate stage of the cell, each thread its coordinate's values
//   in registers, and writes its outputs and what the sums over the
//   coordinates read (the 21 launches of the Mini-ImageNet cell's VJP
//   become 10, and no per-coordinate stage makes a round trip through
//   global memory);
// - a stage the algorithm stores that is cheap to recompute (no sum in it,
//   at most kRecomputeCost operations per element counting the cheap
//   stages it reads in turn) is not stored: it is computed wherever it is
//   read (inlined). Not the stages the lowering keeps stored (keptStored):
//   a small weight it lays out transposed (an LSTM's shared weight: in
//   place, neighbouring threads would load it from rows apart), and a
//   weight gradient's dy (in place, every input channel's threads would
//   compute it again);
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
// - a level of such a sum into at most 256 results (not over the
//   coordinates; LoweredKernel::blockSums): a block of 256 threads per
//   result and span of terms, which add their partial sums in shared
//   memory (scheduleBlockSum); the levels of several such sums of one
//   size share a launch;
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
#include "codegen/Recompute.h"

#include <functional>
#include <map>
#include <set>

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Threads per block.
constexpr int64_t kThreads = 256;

/// Lanes of a vector inside a thread: a 16-byte load of 4 floats.
constexpr int kThreadVector = 4;

/// Stages of at most this many elements (threads) that do not read one
/// another share a launch whatever their sizes (kernelsByLevel): such a
/// launch is mostly its fixed cost. Larger ones share a launch only with
/// stages of their own size: a small stage's registers (a sum in double,
/// a long unrolled chain) would cut the threads resident per SM for a
/// large stage that needs them to stream its buffers.
constexpr int64_t kSmallStage = 65536;

/// The most IR operations per element of a stage computed where it is read
/// instead of stored (with those of the cheap stages it reads in turn).
/// Batch norm's masked gradient below a max-pooling (142: the window
/// offset's test, the pooled gradient, and the activation's batch norm
/// again for relu's step) is recomputed by the sums and the input gradient
/// that read it: stored, it took a launch of its own in every batch-norm
/// backward (Mini-ImageNet 5w5s: 633 -> 607 launches a meta-iteration).
constexpr int64_t kRecomputeCost = 144;
/// A stage of at least kLargeStage elements is recomputed up to this cost:
/// stored, it is a device allocation as large as a layer's activations,
/// beside the planned arena. The first layer's batch-norm gradient inside
/// the weight gradient that reads it (251: the maximum's window offset,
/// the pooled gradient and the activation read, the rest per-channel
/// values a thread's loop holds, and the index arithmetic) would be
/// 64.6 MiB.
constexpr int64_t kLargeStage = int64_t(1) << 22;
constexpr int64_t kRecomputeCostLarge = 288;

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

/// A blocked sum's serial loops (those unrollShortReductions leaves) of
/// more than this many iterations in all are a chain of waits for memory.
constexpr int64_t kLongChain = 64;

/// Where the serial reduction loops of `sum` (a blocked sum whose
/// `unrolled` innermost reductions are unrolled, unrollShortReductions)
/// run more than kLongChain iterations in all, unrolls the innermost of
/// them by up to 4 (the largest that divides it), so that a thread has
/// that many iterations' loads in flight instead of waiting for each (a
/// convolution's weight gradient: 294 iterations of 13 loads a thread at
/// 42x42, one after another). A shorter chain (a convolution's loop over
/// its 32 input channels) is unrolled by 2 where the sum runs on fewer
/// than kBusyThreads `threads`, which hide little of its loads' latency by
/// switching threads (the 10x10 and 21x21 convolutions of a 5-shot batch:
/// 40,000 and 58,800 threads, about 10 and 14 warps an SM): two input
/// channels' loads in flight.
void unrollLongChain(Func sum, size_t unrolled, int64_t threads) {
  const std::vector<Internal::ReductionVariable> &rvars =
      sum.function().update(0).schedule().rvars();
  if (unrolled >= rvars.size())
    return;
  int64_t serial = 1;
  for (size_t r = unrolled; r < rvars.size(); ++r) {
    const int64_t *extent = Internal::as_const_int(Internal::simplify(rvars[r].extent));
    if (!extent)
      return;
    serial *= *extent;
  }
  const int64_t *innermost =
      Internal::as_const_int(Internal::simplify(rvars[unrolled].extent));
  int64_t by = largestDivisor(*innermost, serial > kLongChain ? 4
                                          : threads < kBusyThreads ? 2 : 1);
  if (by < 2)
    return;
  RVar outer("uo"), inner("ui");
  sum.update().split(RVar(rvars[unrolled].var), outer, inner, int(by)).unroll(inner);
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
  unrollLongChain(sum, unrollShortReductions(sum), elements);
  return true;
}

/// A sum taken by blocks of threads (LoweredKernel::blockSums): one block
/// per element of `loop` (the wrapper the sum is computed in). In each
/// block, kBlockSumThreads threads compute their partial sums (in a
/// register, the loop over the terms unrolled by 8, as sumInThread) and
/// store them in shared memory, kBlockSumThreads / kBlockGroup threads add
/// groups of those, and one thread adds the groups' and stores the block's
/// result (Halide puts a barrier between the stages). Every stage runs in
/// threads (the sum in a loop of one): code at block level outside them
/// runs in every thread. The stages are computed at the block loop of
/// `leader`, the launch's first loop (`loop` itself, or the one `loop`'s
/// blocks are fused with). Returns the thread loop.
/// With `first` (the block sum of `leader`), the sum shares the launch's
/// stages: its threads' and groups' loops, and its
/// threads' loop over the terms, are fused with `first`'s, so that each
/// term read by both sums (batch norm's sum and sum of squares of the same
/// pixel, its backward's two sums of the same recomputed gradient) is
/// loaded and computed once, and the block waits at 2 barriers, not 2 a
/// sum and more between sums. (PTX of Mini-ImageNet 5w5s: batch norm's
/// statistics at 84x84, 16 -> 8 loads a thread and 5 -> 2 barriers; its
/// backward's three sums, 68 -> 44 loads and 8 -> 2 barriers. Not
/// measured on a GPU yet.)
Var scheduleBlockSum(Func loop, Func sum, LoweredKernel::BlockSum b, Func leader,
                     LoweredKernel::BlockSum *first) {
  Var block("b"), thread("t");
  loop.split(loop.args()[0], block, thread, 1).gpu_blocks(block).gpu_threads(thread);
  auto inThreads = [&](Func f, int width) {
    Var v = f.args()[0];
    f.compute_at(leader, block).bound_extent(v, width).gpu_threads(v);
  };
  inThreads(b.threads, int(kBlockSumThreads));
  inThreads(b.groups, int(kBlockSumThreads / kBlockGroup));
  Func termsAt = first ? first->threads : b.threads;
  b.terms.compute_at(termsAt, termsAt.args()[0]);
  RVar terms = b.terms.rvars(0)[0], outer("uo"), inner("ui");
  b.terms.update().split(terms, outer, inner, 8).unroll(inner);
  if (first) {
    b.threads.compute_with(first->threads, b.threads.args()[0]);
    b.groups.compute_with(first->groups, b.groups.args()[0]);
    b.terms.update().compute_with(first->terms.update(), outer);
  }
  sum.compute_at(loop, thread);
  RVar groups = sum.rvars(0)[0], go("so"), gi("si");
  sum.update().split(groups, go, gi, 8).unroll(gi);
  return thread;
}

/// Computes the sum `f` inside each thread of `consumer` (its storage a
/// register), short reduction loops unrolled, as on the CPU; a longer
/// single loop by 8 (the levels of a long sum: 8 loads in flight at once
/// rather than one, each waiting for global memory), its tail guarded
/// where 8 does not divide it.
void sumInThread(Func f, Func consumer, const Var &thread) {
  f.compute_at(consumer, thread);
  unrollShortReductions(f);
  const std::vector<Internal::ReductionVariable> &rvars =
      f.function().update(0).schedule().rvars();
  const int64_t *extent =
      rvars.size() == 1 ? Internal::as_const_int(Internal::simplify(rvars[0].extent))
                        : nullptr;
  if (extent && *extent > 32) {
    // (A length that 8 does not divide has its last 8 guarded: not split,
    // it was left to LLVM, which unrolls some such loops and not others.)
    RVar outer("uo"), inner("ui");
    f.update()
        .split(RVar(rvars[0].var), outer, inner, 8,
               *extent % 8 ? TailStrategy::GuardWithIf : TailStrategy::Auto)
        .unroll(inner);
  }
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
/// `launched` has its wrapper); `extraReads`, what each stage reads besides
/// (a reader of a coordinate thread's values comes after all the thread
/// reads). Stages that none of `roots` (the outputs, and what a
/// coordinate's thread reads) reads are left out (Halide computes nothing
/// for them).
std::vector<std::vector<std::string>>
kernelsByLevel(const std::map<std::string, Func> &launched,
               const std::map<std::string, Func> &stages,
               const std::map<std::string, Shape> &shapes,
               const std::vector<std::string> &roots,
               const std::set<std::string> &alone,
               const std::set<std::string> &blockSums,
               const std::map<std::string, std::set<std::string>> &extraReads) {
  std::map<std::string, std::set<std::string>> reads, readers;
  for (auto &[name, loop] : launched) {
    std::set<std::string> seen;
    storedReads(stages.at(name).function(), launched, reads[name], seen);
    auto extra = extraReads.find(name);
    if (extra != extraReads.end())
      reads[name].insert(extra->second.begin(), extra->second.end());
    reads[name].erase(name);
  }
  std::set<std::string> live;
  std::vector<std::string> pending;
  for (const std::string &r : roots)
    if (launched.count(r))
      pending.push_back(r);
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
    if (blockSums.count(n))
      return -2 - numElements(shapes.at(n));
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

/// Makes `caller`'s definitions call `to` where they call the Func named
/// `from`.
void redirect(Func caller, const std::string &from, const Func &to) {
  struct Redirect : Internal::IRMutator {
    using IRMutator::visit;
    std::string from;
    Internal::Function to;
    Expr visit(const Internal::Call *c) override {
      if (c->call_type != Internal::Call::Halide || c->name != from)
        return IRMutator::visit(c);
      std::vector<Expr> args;
      for (const Expr &a : c->args)
        args.push_back(mutate(a));
      return Internal::Call::make(to, args, c->value_index);
    }
  } r;
  r.from = from;
  r.to = to.function();
  caller.function().mutate(&r);
}

/// Whether a stage of `threaded` reads, through a stage outside it, a
/// stage of `threaded` (a sum over the coordinates read back by every
/// coordinate, as in a second-order cell gradient): then they cannot all be
/// one loop.
bool readsItselfThroughSums(const LoweredKernel &k, const std::set<std::string> &threaded) {
  std::map<std::string, bool> memo;
  auto inThread = [&](const std::string &n) { return threaded.count(n) > 0; };
  auto anything = [](const Internal::Function &) { return true; };
  // From a stage of the thread, through Funcs computed in place, to a stage
  // outside it.
  std::set<std::string> seen;
  std::function<bool(const Internal::Function &)> outsideReadsThread =
      [&](const Internal::Function &f) -> bool {
    for (const Internal::Function &c : callees(f)) {
      if (threaded.count(c.name()) || !seen.insert(c.name()).second)
        continue;
      if (isInlined(c) ? outsideReadsThread(c) : readsAny(c, inThread, anything, memo))
        return true;
    }
    return false;
  };
  for (auto &[f, shape] : k.stages)
    if (threaded.count(f.name()) && outsideReadsThread(f.function()))
      return true;
  return false;
}

/// A mapped kernel with per-coordinate results (coordinateThreads): one
/// thread per coordinate computes every per-coordinate stage of its
/// coordinate (`threaded`, by name), those stages' values in the thread
/// (registers: every loop inside the thread unrolled), and writes the
/// coordinate's outputs (the copies in `k.tiled`), all in one launch
/// (Halide's compute_with). A stage of the thread that a stage outside it
/// reads (the first level of a sum over the coordinates) is also written
/// out, by a copy in the same loop that those readers read instead (the
/// Funcs computed in place between them cloned for those readers,
/// Func::clone_in, so the thread's own readers still read the thread's
/// values). Returns the Funcs written out besides the outputs (stored on
/// the device), with their shapes.
std::vector<std::pair<Func, Shape>>
threadPerCoordinate(LoweredKernel &k, const std::set<std::string> &threaded,
                    const std::map<std::string, Func> &byName,
                    const std::map<std::string, Shape> &shapeOf, int64_t coords) {
  auto inThread = [&](const std::string &n) {
    return threaded.count(n) && !k.tiled.count(n);
  };
  // Whether a Func reads a stage of the thread (looking through Funcs
  // computed in place).
  std::map<std::string, bool> memo;
  auto reaches = [&](const Internal::Function &f) {
    return readsAny(f, inThread, isInlined, memo);
  };
  // The thread's readers outside it: each Func in place that reads the
  // thread and that a stage outside reads is cloned for its callers there
  // (stages outside, or clones: callers first, in topological order), and
  // each stage of the thread gets the callers there that read it.
  std::map<std::string, std::vector<Func>> inPlaceCallers, stageCallers;
  std::map<std::string, Internal::Function> inPlace;
  std::vector<std::string> order; // callers after callees (reversed below)
  std::set<std::string> visited;
  std::function<void(const Internal::Function &)> visit = [&](const Internal::Function &f) {
    if (!visited.insert(f.name()).second)
      return;
    for (const Internal::Function &c : callees(f))
      if (isInlined(c) && reaches(c)) {
        inPlace.emplace(c.name(), c);
        visit(c);
      }
    order.push_back(f.name());
  };
  auto note = [&](const Func &caller, const Internal::Function &f) {
    for (const Internal::Function &c : callees(f))
      if (inThread(c.name()))
        stageCallers[c.name()].push_back(caller);
      else if (inPlace.count(c.name()))
        inPlaceCallers[c.name()].push_back(caller);
  };
  std::vector<Func> outside;
  for (auto &[f, shape] : k.stages)
    if (!threaded.count(f.name()) && !isInlined(f.function())) {
      outside.push_back(f);
      visit(f.function());
    }
  for (const Func &f : outside)
    note(f, f.function());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    auto f = inPlace.find(*it);
    if (f == inPlace.end())
      continue; // a stage outside
    Func clone = Func(f->second).clone_in(inPlaceCallers.at(*it));
    note(clone, f->second);
  }
  std::vector<std::pair<Func, Shape>> members, written;
  for (auto &[f, shape] : k.stages)
    if (k.tiled.count(f.name()))
      members.push_back({f, shape});
  for (auto &[name, callers] : stageCallers) {
    // A copy whose loops are named as the outputs' (the coordinate
    // `coord`): a Halide wrapper (Func::in) would name them after the
    // stage's, and the loops fused must have the same names.
    const Shape &shape = shapeOf.at(name);
    std::vector<Var> vars; // innermost first
    for (size_t d = 0; d + 1 < shape.size(); ++d)
      vars.push_back(Var("d" + std::to_string(d)));
    vars.push_back(Var("coord"));
    Func copy(name + "_out");
    copy(vars) = byName.at(name)(vars);
    for (Func caller : callers)
      redirect(caller, name, copy);
    written.push_back({copy, shape});
    members.push_back(written.back());
  }
  // The loop: a thread per coordinate (the outermost dimension), blocks of
  // kThreads, the last shifted back to end at the last coordinate (a
  // guard would leave the bounds of the stages in the thread past the
  // end); the rest of each member's dimensions unrolled in the thread.
  int64_t threads = std::min(kThreads, coords);
  Var coordinate("c"), block("b"), thread("t");
  Func leader = members.front().first;
  for (auto &[f, shape] : members) {
    boundAll(f, shape);
    std::vector<Var> vars = f.args(); // innermost first
    // (Halide names a split's loops after the split one, here `coord` in
    // every member, so their loops have the same names; the kernel is
    // named after them, `.._coord_c_fused_b`.)
    f.compute_root()
        .rename(vars.back(), coordinate)
        .split(coordinate, block, thread, int(threads),
               coords % threads ? TailStrategy::ShiftInwards : TailStrategy::Auto)
        .gpu_blocks(block)
        .gpu_threads(thread);
    for (size_t d = 0; d + 1 < vars.size(); ++d)
      f.unroll(vars[d]);
    if (f.name() != leader.name())
      f.compute_with(leader, thread);
  }
  // The stages in the thread: a coordinate's worth each, unrolled.
  for (auto &[f, shape] : k.stages) {
    if (!inThread(f.name()))
      continue;
    std::vector<Var> vars = f.args();
    for (size_t d = 0; d + 1 < vars.size(); ++d)
      f.bound(vars[d], 0, int(shape[shape.size() - 1 - d]));
    f.compute_at(leader, thread);
    // Rows by 4 where the lowering asks (threadVectors: vectors of the
    // innermost dimension, all unrolled, so still registers): a weight
    // read along those rows then loads as 16-byte vectors (Halide's PTX:
    // an i128 load where the index is a multiple of 4; buffers start
    // 16-byte aligned: slots at kSlotAlignment, CUDA views at 16 bytes).
    bool rowVectors = k.threadVectors.count(f.name()) && vars.size() > 1 &&
                      shape.back() % kThreadVector == 0;
    auto unrollRows = [&](auto stage) { // a Func's pure definition or an update
      for (size_t d = 0; d + 1 < vars.size(); ++d) {
        if (d == 0 && rowVectors)
          stage.vectorize(vars[d], kThreadVector);
        stage.unroll(vars[d]);
      }
    };
    unrollRows(f);
    for (int u = 0; u < f.num_update_definitions(); ++u) {
      Stage st = f.update(u);
      unrollRows(st);
      for (const RVar &r : f.rvars(u))
        st.unroll(r);
    }
  }
  return written;
}

} // namespace

void scheduleForGpu(const KernelGraph &g, LoweredKernel &k, const Target &) {
  std::map<std::string, Func> byName;
  std::map<std::string, Shape> shapeOf;
  for (auto &[f, shape] : k.stages) {
    byName[f.name()] = f;
    shapeOf[f.name()] = shape;
  }
  // The per-coordinate stages of a kernel run a thread per coordinate.
  std::set<std::string> threaded;
  if (k.coordinateThreads)
    for (auto &[f, shape] : k.stages)
      if (!shape.empty() && shape.front() == g.coords)
        threaded.insert(f.name());
  if (readsItselfThroughSums(k, threaded)) {
    // A launch per stage, as for other kernels (the per-coordinate
    // outputs are copies of stages, as any output may be).
    k.coordinateThreads = false;
    threaded.clear();
  }
  std::set<std::string> inlined =
      recompute(k, threaded, {kRecomputeCost, kLargeStage, kRecomputeCostLarge, kSmallStage});
  std::vector<std::pair<Func, Shape>> written;
  if (k.coordinateThreads)
    written = threadPerCoordinate(k, threaded, byName, shapeOf, g.coords);
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
    if (inlined.count(f.name()) || copied.count(f.name()) || threaded.count(f.name()))
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
  auto addStage = [&](const Func &f, const Shape &shape) {
    k.deviceStageBytes += (numElements(shape) * f.output_types()[0].bytes() +
                           kStageAlignment - 1) / kStageAlignment * kStageAlignment;
  };
  for (auto &[name, loop] : launched)
    if (!outputs.count(name))
      addStage(loop, shapes.at(name));
  for (auto &[f, shape] : written)
    addStage(f, shape);
  // Launched alone: scalar stages (Halide 14 fails on fused scalar loops;
  // so a kernel's scalar results are buffers of one element, and only
  // scalars stored for other stages remain), and
  // stages of several dimensions with a sum inside their threads (their
  // own or an inline one; a stored sum they read is a load): fused, Halide
  // no longer sees that a thread needs the sum at one point and computes
  // it over whole dimensions (seen: 75 times the work, and pocl's stack
  // overflowed).
  // The block sum (LoweredKernel::blockSums) a launched stage computes.
  auto blockSum = [&](const std::string &name) {
    return sumInside.count(name) ? k.blockSums.find(sumInside.at(name).name())
                                 : k.blockSums.end();
  };
  std::set<std::string> alone, blockSumStages;
  for (auto &[name, loop] : launched) {
    if (blockSum(name) != k.blockSums.end()) {
      blockSumStages.insert(name);
      continue;
    }
    const Shape &shape = shapes.at(name);
    bool sumInThreads = sumInside.count(name) || hasInlineReduction(loop);
    if (shape.empty() || (shape.size() > 1 && sumInThreads))
      alone.insert(name);
  }
  // What the launches compute: the outputs, and what a coordinate's
  // thread reads (a weight laid out anew).
  std::vector<std::string> roots;
  for (const Func &o : k.outputs)
    roots.push_back(o.name());
  std::set<std::string> threadReads, seen;
  for (auto &[f, shape] : k.stages)
    if (threaded.count(f.name()))
      storedReads(f.function(), launched, threadReads, seen);
  for (auto &[f, shape] : written)
    storedReads(f.function(), launched, threadReads, seen);
  roots.insert(roots.end(), threadReads.begin(), threadReads.end());
  // A stage that reads what the thread writes comes after the thread, so
  // after every stage the thread reads: not in one launch with any (in
  // one, their launch and the thread's would each wait for the other).
  // (Looking through every Func, stored or not: a reader reaches the
  // thread's stages through a copy written out, or through a Func in
  // place whose clone Halide substitutes only when it lowers.)
  std::map<std::string, Func> threadValues;
  for (const std::string &n : threaded)
    threadValues[n] = byName.at(n);
  std::map<std::string, std::set<std::string>> afterThread;
  for (auto &[name, loop] : launched) {
    std::set<std::string> hits, seenHere;
    storedReads(byName.at(name).function(), threadValues, hits, seenHere);
    if (!hits.empty())
      afterThread[name] = threadReads;
  }
  for (const std::vector<std::string> &kernel :
       kernelsByLevel(launched, byName, shapes, roots, alone, blockSumStages, afterThread)) {
    size_t dims = 1;
    for (const std::string &name : kernel)
      dims = std::max(dims, shapes.at(name).size());
    int64_t threads = std::min(kThreads, numElements(shapes.at(kernel.front())));
    if (blockSumStages.count(kernel.front())) {
      // Block sums of one size: their blocks' loops fused, and their
      // stages (scheduleBlockSum).
      Func leader = launched.at(kernel.front());
      LoweredKernel::BlockSum *first = &blockSum(kernel.front())->second;
      for (const std::string &name : kernel) {
        bool leads = name == kernel.front();
        Var thread = scheduleBlockSum(launched.at(name), sumInside.at(name),
                                      blockSum(name)->second, leader,
                                      leads ? nullptr : first);
        if (!leads)
          launched.at(name).compute_with(leader, thread);
      }
      continue;
    }
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
