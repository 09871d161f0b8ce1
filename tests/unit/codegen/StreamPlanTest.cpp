//===- StreamPlanTest.cpp - which kernel calls may run at the same time ---===//
//
// Hand-built kernel programs (no MLIR, no Halide): a chain stays on one
// stream; a weight gradient that only the last step reads runs on a
// stream of its own, and the step that reads it waits for it; a side
// step's stages move to the top of its range, so the chain's next step
// (whose stages start at the same bottom) need not wait; bytes the memory
// plan reuses make a step wait even where no value passes between them;
// on random programs every two steps that touch the same bytes, one
// writing, run in order (verifyStreamPlan); verifyStreamPlan itself
// catches a missing wait.
//
//===----------------------------------------------------------------------===//
#include "codegen/StreamPlan.h"

#include "tests/unit/codegen/HandBuiltPrograms.h"

#include <gtest/gtest.h>

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
  MemoryPlan plan = planMemory(p, stages);
  ASSERT_EQ(verifyMemoryPlan(p, plan), "");
  // Without the move, both stage ranges would start at the same bottom.
  std::vector<std::pair<int64_t, int64_t>> before = plan.scratch;
  ASSERT_EQ(before[2].first, before[3].first);
  ASSERT_GE(before[2].second, 2048 + 512);
  StreamPlan s = planStreams(p, plan, 4);
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  EXPECT_EQ(verifyStreamPlan(p, plan, s), "");
  EXPECT_EQ(s.chainSteps, 4);
  EXPECT_EQ(s.sideSteps, 1);
  EXPECT_EQ(s.movedStages, 1);
  EXPECT_EQ(s.streams, 2);
  // The weight gradient on its own stream, after the output gradient.
  EXPECT_EQ(s.stream[0], s.stream[1]);
  EXPECT_NE(s.stream[2], s.stream[1]);
  EXPECT_EQ(s.waits[2], std::vector<int>{0});
  // The chain goes on without it; the update waits for it.
  EXPECT_EQ(s.stream[3], s.stream[1]);
  EXPECT_TRUE(s.waits[3].empty());
  EXPECT_EQ(s.waits[4], std::vector<int>{2});
  // Its stages at the top of its range, the chain's at the bottom.
  EXPECT_EQ(plan.scratch[2].first + plan.scratch[2].second,
            before[2].first + before[2].second);
  EXPECT_EQ(plan.scratch[2].second, 2048);
  EXPECT_EQ(plan.scratch[3], before[3]);
}

TEST(StreamPlanTest, OneStreamAskedFor) {
  std::vector<int64_t> stages;
  Program p = backward(stages);
  MemoryPlan plan = planMemory(p, stages);
  std::vector<std::pair<int64_t, int64_t>> before = plan.scratch;
  StreamPlan s = planStreams(p, plan, 1);
  EXPECT_EQ(s.streams, 1);
  EXPECT_EQ(plan.scratch, before);
  EXPECT_EQ(verifyStreamPlan(p, plan, s), "");
}

// Reused bytes order steps that pass no value: in the chain, the memory
// plan puts c (step 2's result) where a (step 0's) was; so does any other
// reuse. verifyStreamPlan catches a step moved to another stream without
// its wait.
TEST(StreamPlanTest, VerifyCatchesAMissingWait) {
  std::vector<int64_t> stages;
  Program p = backward(stages);
  MemoryPlan plan = planMemory(p, stages);
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
    MemoryPlan plan = planMemory(p, stages);
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
