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
//   sum, each thread computing its element's whole sum in registers
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

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Threads per block.
constexpr int64_t kThreads = 256;

/// Fuses the dimensions of `s` (a Func or one of its update Stages; `vars`
/// innermost first, `elements` in all) into one and splits it into blocks
/// of threads. Returns the thread variable. (Short names: a GPU kernel is
/// named after its loops, and pocl fails on long kernel names.)
template <typename S>
Var flatBlocks(S s, const std::vector<Var> &vars, int64_t elements) {
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

void scheduleElementwise(Func f, const Shape &shape) {
  if (shape.empty()) {
    f.gpu_single_thread();
    return;
  }
  boundAll(f, shape);
  flatBlocks(f, f.args(), numElements(shape));
}

/// A sum with one thread per result element: the threads run over a
/// wrapper that every consumer reads, the sum itself is computed inside
/// each thread (its storage a register).
void scheduleSum(Func f, const Shape &shape) {
  if (shape.empty()) {
    f.gpu_single_thread();
    f.update().gpu_single_thread();
    return;
  }
  Func w = f.in();
  w.compute_root();
  boundAll(w, shape);
  Var thread = flatBlocks(w, w.args(), numElements(shape));
  f.compute_at(w, thread);
  // Short reduction loops are unrolled (up to 32 terms), as on the CPU.
  int64_t terms = 1;
  for (const Internal::ReductionVariable &rv :
       f.function().update(0).schedule().rvars()) {
    const int64_t *extent = Internal::as_const_int(Internal::simplify(rv.extent));
    if (!extent || terms * *extent > 32)
      break;
    f.update().unroll(RVar(rv.var));
    terms *= *extent;
  }
}

} // namespace

void scheduleForGpu(const KernelGraph &, LoweredKernel &k, const Target &) {
  for (auto &[f, shape] : k.stages) {
    if (f.has_update_definition())
      scheduleSum(f, shape);
    else
      scheduleElementwise(f, shape);
  }
}

} // namespace lopt::codegen
