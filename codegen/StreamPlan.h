//===- StreamPlan.h - which kernel calls may run at the same time -*- C++ -*-===//
//
// A Program runs its steps one after another, but a step only has to wait
// for the earlier steps that touch its bytes: that wrote what it reads, or
// read or wrote what it writes (its results, and the arena range its
// kernel's stages go in on a CUDA device). The bytes, not the values:
// the memory plan reuses a dead buffer's bytes for a later one. Off the
// longest chain of such dependences lie, in a meta-gradient, the weight
// gradients: a layer's weight gradient and its data gradient both read the
// layer's output gradient, and only the data gradient leads on. On a GPU
// whose launches are small, the weight gradient can then run beside the
// rest of the backward pass, on another stream.
//
// planStreams gives each step a stream and the steps on other streams it
// waits for (the fewest: a stream runs its steps in order, and a step
// waited for implies what it waited for). A step off every longest chain
// of data dependences (a "side" step) can only run beside the steps after
// it if they leave its bytes alone: keepUntilForStreams says until which
// step the memory plan keeps its inputs and its stages (planMemory's
// keepUntil), the step before the first that reads its results.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_STREAMPLAN_H
#define LOPT_CODEGEN_STREAMPLAN_H

#include "codegen/MemoryPlan.h"

namespace lopt::codegen {

struct StreamPlan {
  int streams = 1;                     // streams used
  std::vector<int> stream;             // per step
  std::vector<std::vector<int>> waits; // per step: earlier steps, by index
  /// The longest chain of steps each of which waits for the one before:
  /// the steps that would run one after another with any number of
  /// streams.
  int chainSteps = 0;
  /// Steps whose bytes the memory plan keeps for steps after them
  /// (MemoryPlan::keepUntil, from keepUntilForStreams: steps off every
  /// longest chain of their data dependences).
  int sideSteps = 0;
};

/// Every step on stream 0, waiting for nothing (a CPU target's, or one
/// stream asked for).
StreamPlan singleStream(const Program &prog);

/// Per step, the last step through which the memory plan keeps its
/// inputs and stages: a side step's, the step before the first that reads
/// its results (the last step where none does); any other step, itself.
std::vector<int> keepUntilForStreams(const Program &prog);

/// Plans the steps of `prog` (placed by `plan`, best with
/// keepUntilForStreams) on at most `maxStreams` streams.
StreamPlan planStreams(const Program &prog, const MemoryPlan &plan,
                       int maxStreams);

/// Checks that every two steps that touch the same bytes, one of them
/// writing, run in program order: on one stream, or the later one waiting
/// (directly or through the steps it waits for) for the earlier; returns
/// an empty string, or the first pair that does not.
std::string verifyStreamPlan(const Program &prog, const MemoryPlan &plan,
                             const StreamPlan &streams);

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_STREAMPLAN_H
