//===- MemoryPlan.h - static buffer placement from liveness -----*- C++ -*-===//
//
// A Program is straight-line code over static shapes, so every buffer's
// lifetime is known at compile time: storage slot s lives from the step
// that writes it to the last step that reads it or any view of it;
// arguments (bound once, read by every run) and results live throughout. Buffers whose lifetimes
// overlap get disjoint byte ranges of one arena; the others reuse memory.
// Placement is greedy, at the lowest free offset, in three orders (largest
// first; in the order the buffers are made; the buffers alive at the peak
// step first, then the others largest first), the smallest arena kept. Each
// step also gets the largest range of the arena free during it, for the
// stages its kernel stores; where the caller says how many bytes those
// are (a CUDA binary's kernels), they are planned as a buffer alive at
// that step only, so that the range is at least that large.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_MEMORYPLAN_H
#define LOPT_CODEGEN_MEMORYPLAN_H

#include "codegen/Program.h"

namespace lopt::codegen {

struct MemoryPlan {
  std::vector<int64_t> offset; // per value slot (a view: inside its storage)
  int64_t arenaBytes = 0;      // the planned arena
  int64_t totalBytes = 0;      // every buffer apart (no reuse), for reports
  /// The most bytes alive at one step: no placement needs less arena.
  int64_t livePeakBytes = 0;
  /// The step at which they are alive (-1: before the first step).
  int peakStep = -1;
  /// Per storage slot, the steps from the one that writes it to the last
  /// that reads it (-1: before the first; steps.size(): after the last),
  /// or that keeps it (keepUntil); {-1, -1} for other slots.
  std::vector<std::pair<int, int>> lifetime;
  /// Per step, the largest range of the arena (offset, bytes) that no
  /// buffer alive at the step occupies: where the stages its kernel stores
  /// may go (the driver places them there when they fit).
  std::vector<std::pair<int64_t, int64_t>> scratch;
  /// Per step, the bytes of stages planned (planMemory's stageBytes,
  /// zeros where it had none).
  std::vector<int64_t> stageBytes;
  /// Per step, the last step through which its inputs and stages keep
  /// their bytes (planMemory's keepUntil; the step itself where none).
  std::vector<int> keepUntil;
};

/// `stageBytes`: per step, the bytes of the stages its kernel stores (may
/// be empty: none planned). `keepUntil` (may be empty): per step, the last
/// step through which its inputs and its stages keep their bytes (a step
/// that may run beside the steps after it, StreamPlan.h, needs them
/// untouched until then); such a step's scratch is where its stages were
/// placed, not the largest free range.
MemoryPlan planMemory(const Program &prog,
                      const std::vector<int64_t> &stageBytes = {},
                      const std::vector<int> &keepUntil = {});

/// Checks that no two buffers live at the same time share bytes, and that
/// no step's scratch range holds a buffer alive at that step or is smaller
/// than the stages planned for it; returns an empty string, or what is
/// wrong.
std::string verifyMemoryPlan(const Program &prog, const MemoryPlan &plan);

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_MEMORYPLAN_H
