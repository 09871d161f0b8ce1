//===- GpuSchedule.cpp - how kernels run on a GPU -------------------------===//
//
// The GPU half of every kernel's schedule (the algorithm is
// HalideLowering.cpp, the CPU schedule CpuSchedule.cpp). Every stored stage
// runs on the device, so that buffers never travel to the host inside an
// episode:
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
// - a scalar: one thread.
// The schedule names no GPU API (Halide's Default_GPU): the same kernels
// compile for CUDA and for OpenCL, which runs on the CPU (pocl) where no
// NVIDIA GPU is at hand, so tests check these schedules on any machine.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"

#include <map>
#include <set>

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Threads per block.
constexpr int64_t kThreads = 256;

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

/// Returns the thread variable (undefined for a scalar's single thread).
Var scheduleElementwise(Func f, const Shape &shape) {
  if (shape.empty()) {
    f.gpu_single_thread();
    return Var();
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
  if (shape.empty()) {
    f.gpu_single_thread();
    f.update().gpu_single_thread();
    return;
  }
  Func w = f.in();
  w.compute_root();
  boundAll(w, shape);
  sumInThread(f, w, flatBlocks(w, numElements(shape)));
}

} // namespace

void scheduleForGpu(const KernelGraph &, LoweredKernel &k, const Target &) {
  std::map<std::string, Func> byName;
  for (auto &[f, shape] : k.stages)
    byName[f.name()] = f;
  std::set<std::string> done;
  // An output copying a sum that nothing else reads: one kernel, the sum
  // computed in the copy's threads.
  for (auto &[f, shape] : k.stages) {
    auto copied = k.copiedSums.find(f.name());
    if (copied == k.copiedSums.end() || shape.empty())
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
