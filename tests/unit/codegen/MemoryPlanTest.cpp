//===- MemoryPlanTest.cpp - static buffer placement -----------------------===//
//
// Hand-built kernel programs (no MLIR, no Halide): the planner reuses the
// memory of dead buffers, never gives bytes to two buffers alive at the
// same time (checked pairwise by verifyMemoryPlan on random programs),
// keeps the smallest arena of its placement orders, keeps arguments and
// results alive throughout, places views inside their storage, and gives
// each step the largest range no buffer alive there holds, at least the
// stages planned for it.
// verifyMemoryPlan itself catches an overlap.
//
//===----------------------------------------------------------------------===//
#include "codegen/MemoryPlan.h"

#include "tests/unit/codegen/HandBuiltPrograms.h"

#include <gtest/gtest.h>

#include <random>

using namespace lopt;
using namespace lopt::codegen;
using namespace lopt::codegen::handbuilt;

namespace {

TEST(MemoryPlanTest, ChainReusesDeadBuffers) {
  Program p = chain();
  MemoryPlan plan = planMemory(p);
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  EXPECT_EQ(plan.totalBytes, 5 * 1024);
  // x lives throughout; a [0, 1] and c [2, 3] can share, and so can
  // b [1, 2] and the result y [3, end].
  EXPECT_EQ(plan.arenaBytes, 3 * 1024);
  // Three buffers are alive together (x, a, b at step 1): the arena is the
  // least any placement needs.
  EXPECT_EQ(plan.livePeakBytes, 3 * 1024);
  for (int64_t off : plan.offset)
    EXPECT_EQ(off % 256, 0);
}

/// The shape of a meta-gradient's query (below): slots A (0), P (1), Q (2)
/// and B (3).
Program queryShape() {
  Program p;
  int a = addValue(p, {1024}), pooled = addValue(p, {256}),
      q = addValue(p, {256}), b = addValue(p, {1024});
  addStep(p, {}, {a});
  addStep(p, {a}, {pooled});
  addStep(p, {}, {});
  addStep(p, {}, {q});
  addStep(p, {pooled}, {});
  addStep(p, {}, {b});
  addStep(p, {b, q}, {});
  return p;
}

// The shape of a meta-gradient's query: a large activation A (4 KiB,
// steps 0-1), the pooled value P read at step 4, a gradient Q made at step
// 3 and read with a large recomputed B (steps 5-6). Largest first puts A
// and B at 0, so P goes above A, and Q, alive with both B and P, above P:
// 6 KiB. In the order they are made Q goes where A was, below B: 5 KiB,
// the least possible (A and P at step 1, B and Q at step 5).
TEST(MemoryPlanTest, KeepsTheSmallerOfTwoOrders) {
  Program p = queryShape();
  const int pooled = 1;
  MemoryPlan plan = planMemory(p);
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  EXPECT_EQ(plan.livePeakBytes, 5 * 1024);
  EXPECT_EQ(plan.arenaBytes, 5 * 1024);
  // Each step's scratch: the largest range no buffer alive there holds.
  // At step 2 only P is alive (at 4 KiB): the 4 KiB below it. At step 6,
  // B and Q fill the arena.
  ASSERT_EQ(plan.scratch.size(), p.steps.size());
  EXPECT_EQ(plan.offset[pooled], 4 * 1024);
  EXPECT_EQ(plan.scratch[2], std::make_pair(int64_t(0), int64_t(4 * 1024)));
  EXPECT_EQ(plan.scratch[6], std::make_pair(int64_t(0), int64_t(0)));
  // verifyMemoryPlan catches a scratch range over a buffer alive there.
  plan.scratch[2] = {0, 5 * 1024};
  EXPECT_NE(verifyMemoryPlan(p, plan), "");
}

// Three orders, the smallest arena kept; the third places the buffers
// alive at the peak step first (stacked without a gap), the others largest
// first. A long-lived L (1 KiB, steps 0-4) and a large A (4 KiB, step 1)
// are the peak, 5 KiB at step 1; M (2 KiB, steps 4-5) and N (3 KiB, step
// 5) make 5 KiB at step 5. Largest first puts A and N at 0, M above N, and
// L, alive with A and M, above both: 6 KiB. In the order they are made L
// goes at 0, A and M above it, N above M: 6 KiB. Peak first: L at 0, A
// above it, N at 0, M above N: 5 KiB.
TEST(MemoryPlanTest, PeakBuffersFirstMeetThePeak) {
  Program p;
  int l = addValue(p, {256}), a = addValue(p, {1024}), m = addValue(p, {512}),
      n = addValue(p, {768});
  addStep(p, {}, {l});
  addStep(p, {}, {a});
  addStep(p, {}, {});
  addStep(p, {}, {});
  addStep(p, {l}, {m});
  addStep(p, {m}, {n});
  MemoryPlan plan = planMemory(p);
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  EXPECT_EQ(plan.livePeakBytes, 5 * 1024);
  EXPECT_EQ(plan.arenaBytes, 5 * 1024);
  EXPECT_EQ(plan.offset[l], 0);
  EXPECT_EQ(plan.offset[a], 1024);
}

// A CUDA binary's kernels store their stages in their step's free range:
// planned as a buffer alive at that step only. In KeepsTheSmallerOfTwoOrders
// step 6 has no free byte (B and Q fill the 5 KiB arena); 2 KiB of stages
// there make the arena 7 KiB, and the range holds them; step 2's 3 KiB fit
// below P as before, without growing anything.
TEST(MemoryPlanTest, StagesGetARangeAtTheirStep) {
  Program p = queryShape();
  std::vector<int64_t> stages(p.steps.size(), 0);
  stages[2] = 3 * 1024;
  stages[6] = 2 * 1024;
  MemoryPlan plan = planMemory(p, stages);
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  EXPECT_EQ(plan.livePeakBytes, 7 * 1024);
  EXPECT_EQ(plan.arenaBytes, 7 * 1024);
  EXPECT_EQ(plan.stageBytes, stages);
  EXPECT_GE(plan.scratch[2].second, 3 * 1024);
  EXPECT_GE(plan.scratch[6].second, 2 * 1024);
  // Without them, step 6's range is empty: verifyMemoryPlan says so when
  // it is asked for the stages.
  MemoryPlan bare = planMemory(p);
  EXPECT_EQ(bare.scratch[6].second, 0);
  bare.stageBytes = stages;
  EXPECT_NE(verifyMemoryPlan(p, bare), "");
}

TEST(MemoryPlanTest, ViewsShareTheirStorage) {
  Program p = chain();
  int view = addValue(p, {16, 16}, /*viewOf=*/2);
  int last = addValue(p, {256});
  addStep(p, {view}, {last});
  p.results.push_back(last);
  MemoryPlan plan = planMemory(p);
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  EXPECT_EQ(plan.offset[view], plan.offset[2]);
  // Value 2 is read (through its view) by the last step: nothing written
  // in between may take its bytes.
  for (int s = 3; s < last; ++s) {
    if (p.values[s].storage == s) {
      EXPECT_NE(plan.offset[s], plan.offset[2]) << "slot " << s;
    }
  }
}

TEST(MemoryPlanTest, SliceViewsLieInsideTheirStorage) {
  Program p = chain();
  int head = addValue(p, {4, 4}, /*viewOf=*/2, /*first=*/10);
  int tail = addValue(p, {3}, /*viewOf=*/head, /*first=*/5); // of a view
  int last = addValue(p, {256});
  addStep(p, {head, tail}, {last});
  p.results.push_back(last);
  MemoryPlan plan = planMemory(p);
  EXPECT_EQ(verifyMemoryPlan(p, plan), "");
  EXPECT_EQ(p.values[tail].storage, 2);
  EXPECT_EQ(plan.offset[head], plan.offset[2] + 10 * 4);
  EXPECT_EQ(plan.offset[tail], plan.offset[2] + 15 * 4);
}

TEST(MemoryPlanTest, VerifyCatchesOverlap) {
  Program p = chain();
  MemoryPlan plan = planMemory(p);
  plan.offset[1] = plan.offset[0]; // step 0 reads 0 and writes 1
  EXPECT_NE(verifyMemoryPlan(p, plan), "");
}

TEST(MemoryPlanTest, RandomProgramsNeverShareLiveBytes) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    // Every other trial, stages at some steps.
    std::vector<int64_t> stages;
    Program p = randomProgram(rng, trial % 2 ? &stages : nullptr);
    MemoryPlan plan = planMemory(p, stages);
    ASSERT_EQ(verifyMemoryPlan(p, plan), "") << "trial " << trial;
    EXPECT_LE(plan.arenaBytes, plan.totalBytes);
    EXPECT_LE(plan.livePeakBytes, plan.arenaBytes);
  }
}

} // namespace
