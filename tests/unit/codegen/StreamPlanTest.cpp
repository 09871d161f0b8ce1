//===- StreamPlanTest.cpp - which kernel calls may run at the same time ---===//
//
// Hand-built kernel programs (no MLIR, no Halide): a chain stays on one
// stream; a weight gradient that only the last step reads runs on a
// stream of its own, and the step that reads it waits for it, where the
// memory plan keeps its input and its stages for the step after it
// (keepUntilForStreams; without, the next step's stages take its bytes
// and that step waits); of two steps at one depth of the longest chains,
// the first keeps its bytes for the second; on random programs, with and without bytes kept,
// every two steps that touch the same bytes, one writing, run in order
// (verifyStreamPlan); verifyStreamPlan itself catches a missing wait.
//
//===----------------------------------------------------------------------===//
#include "codegen/StreamPlan.h"

#include "tests/unit/codegen/HandBuiltPrograms.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace lopt;
using namespace lopt::codegen;
using namespace lopt::codegen::handbuilt;

namespace {

TEST(StreamPlanTest, ChainStaysOnOneStream) {
  Program p = chain();
  MemoryPlan plan = planMemory(p);
  StreamPlan s = planStreams(p, plan, 4);
  EXPECT_EQ(verifyStreamPlan(p, plan, s), "");
  EXPECT_EQ(s.streams, 1);
  EXPECT_EQ(s.chainSteps, 4);
  EXPECT_EQ(s.sideSteps, 0);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(s.stream[k], 0);
    EXPECT_TRUE(s.waits[k].empty());
  }
}

/// A layer's backward: step 0 makes the output gradient g (and t, 8 KiB
/// that nothing reads, which leaves room in the arena later); step 1 its
/// data gradient d (from g), step 2 its weight gradient w (from g and the
/// input x), step 3 the next layer's gradient e (from d), step 4 the
/// update u (from e and w). Steps 0, 1, 3, 4 are the longest chain; step
/// 2 is a side step. `stages`: per step.
Program backward(std::vector<int64_t> &stages) {
  Program p;
  int x = addValue(p, {1024}), g = addValue(p, {256}), d = addValue(p, {256}),
      w = addValue(p, {64}), e = addValue(p, {256}), u = addValue(p, {64}),
      t = addValue(p, {2048});
  p.args = {x};
  addStep(p, {x}, {g, t});
  addStep(p, {g}, {d});
  addStep(p, {g, x}, {w});
  addStep(p, {d}, {e});
  addStep(p, {e, w}, {u});
  p.results = {u};
  stages = {0, 0, 2048, 512, 0};
  return p;
}

TEST(StreamPlanTest, WeightGradientBesideTheChain) {
  std::vector<int64_t> stages;
  Program p = backward(stages);
  // The weight gradient's bytes kept for the steps after it, up to the one
  // that reads its result (at most 2 steps).
  std::vector<int> keep = keepUntilForStreams(p);
  EXPECT_EQ(keep, (std::vector<int>{0, 1, 3, 3, 4}));
  // Without them kept, the next step's stages go where its stages were:
  // that step waits for it.
  MemoryPlan tight = planMemory(p, stages);
  ASSERT_EQ(tight.scratch[2].first, tight.scratch[3].first);
  StreamPlan serial = planStreams(p, tight, 4);
  EXPECT_EQ(verifyStreamPlan(p, tight, serial), "");
  EXPECT_TRUE(serial.stream[3] == serial.stream[2] ||
              std::count(serial.waits[3].begin(), serial.waits[3].end(), 2));
  MemoryPlan plan = planMemory(p, stages, keep);
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  // Its input g kept through step 3; its stages where they were placed,
  // apart from step 3's.
  const int g = 1;
  EXPECT_EQ(plan.lifetime[g], std::make_pair(0, 3));
  EXPECT_EQ(plan.scratch[2].second, 2048);
  EXPECT_TRUE(plan.scratch[2].first + 2048 <= plan.scratch[3].first ||
              plan.scratch[3].first + 512 <= plan.scratch[2].first);
  StreamPlan s = planStreams(p, plan, 4);
  EXPECT_EQ(verifyStreamPlan(p, plan, s), "");
  EXPECT_EQ(s.chainSteps, 4);
  EXPECT_EQ(s.sideSteps, 1);
  EXPECT_EQ(s.streams, 2);
  // The weight gradient on its own stream, after the output gradient.
  EXPECT_EQ(s.stream[0], s.stream[1]);
  EXPECT_NE(s.stream[2], s.stream[1]);
  EXPECT_EQ(s.waits[2], std::vector<int>{0});
  // The chain goes on without it; the update waits for it.
  EXPECT_EQ(s.stream[3], s.stream[1]);
  EXPECT_TRUE(s.waits[3].empty());
  EXPECT_EQ(s.waits[4], std::vector<int>{2});
}

// Two steps on longest chains at the same depth (the first layer's weight
// and bias gradients, both read by the update): the first keeps its bytes
// for the second, which may run beside it.
TEST(StreamPlanTest, ParallelStepsOfOneDepth) {
  Program p;
  int x = addValue(p, {256}), g = addValue(p, {256}), w = addValue(p, {64}),
      b = addValue(p, {64}), u = addValue(p, {64});
  p.args = {x};
  addStep(p, {x}, {g});
  addStep(p, {g}, {w});
  addStep(p, {g}, {b});
  addStep(p, {w, b}, {u});
  p.results = {u};
  std::vector<int64_t> stages = {0, 1024, 512, 0};
  EXPECT_EQ(keepUntilForStreams(p), (std::vector<int>{0, 2, 2, 3}));
  MemoryPlan plan = planMemory(p, stages, keepUntilForStreams(p));
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  StreamPlan s = planStreams(p, plan, 4);
  EXPECT_EQ(verifyStreamPlan(p, plan, s), "");
  EXPECT_NE(s.stream[1], s.stream[2]);
  EXPECT_EQ(s.chainSteps, 3);
  EXPECT_EQ(s.sideSteps, 1);
}

TEST(StreamPlanTest, OneStreamAskedFor) {
  std::vector<int64_t> stages;
  Program p = backward(stages);
  MemoryPlan plan = planMemory(p, stages, keepUntilForStreams(p));
  StreamPlan s = planStreams(p, plan, 1);
  EXPECT_EQ(s.streams, 1);
  EXPECT_EQ(s.chainSteps, 5);
  EXPECT_EQ(verifyStreamPlan(p, plan, s), "");
}

// Reused bytes order steps that pass no value: in the chain, the memory
// plan puts c (step 2's result) where a (step 0's) was; so does any other
// reuse. verifyStreamPlan catches a step moved to another stream without
// its wait.
TEST(StreamPlanTest, VerifyCatchesAMissingWait) {
  std::vector<int64_t> stages;
  Program p = backward(stages);
  MemoryPlan plan = planMemory(p, stages, keepUntilForStreams(p));
  StreamPlan s = planStreams(p, plan, 4);
  ASSERT_EQ(verifyStreamPlan(p, plan, s), "");
  s.waits[4].clear();
  EXPECT_NE(verifyStreamPlan(p, plan, s), "");
  StreamPlan one = singleStream(p);
  one.streams = 2;
  one.stream[3] = 1; // reads step 1's d without waiting
  EXPECT_NE(verifyStreamPlan(p, plan, one), "");
}

TEST(StreamPlanTest, RandomProgramsRunInOrderWhereTheyShareBytes) {
  std::mt19937 rng(11);
  int concurrent = 0;
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<int64_t> stages;
    Program p = randomProgram(rng, trial % 2 ? &stages : nullptr);
    // Every other pair of trials, what side steps touch kept for them.
    MemoryPlan plan = planMemory(
        p, stages, trial % 4 < 2 ? keepUntilForStreams(p) : std::vector<int>{});
    StreamPlan s = planStreams(p, plan, 1 + trial % 4);
    ASSERT_EQ(verifyMemoryPlan(p, plan), "") << "trial " << trial;
    ASSERT_EQ(verifyStreamPlan(p, plan, s), "") << "trial " << trial;
    EXPECT_LE(s.streams, 1 + trial % 4);
    EXPECT_LE(s.chainSteps, int(p.steps.size()));
    concurrent += s.streams > 1;
  }
  EXPECT_GT(concurrent, 0);
}

} // namespace
