//===- StreamPlan.cpp - which kernel calls may run at the same time --------===//
#include "codegen/StreamPlan.h"

#include <algorithm>

namespace lopt::codegen {

namespace {

using Range = std::pair<int64_t, int64_t>; // [first byte, end)

/// The bytes a step reads and writes.
struct Touch {
  std::vector<Range> reads, writes;
};

Range slotRange(const Program &prog, const MemoryPlan &plan, int s) {
  return {plan.offset[s], plan.offset[s] + slotBytes(prog.values[s])};
}

/// Per step, what it touches, its kernel's stages (at the start of its
/// scratch range, where the driver places them) among its writes.
std::vector<Touch> touches(const Program &prog, const MemoryPlan &plan) {
  std::vector<Touch> t(prog.steps.size());
  for (size_t k = 0; k < prog.steps.size(); ++k) {
    for (int s : prog.steps[k].inputs)
      t[k].reads.push_back(slotRange(prog, plan, s));
    for (int s : prog.steps[k].outputs)
      t[k].writes.push_back(slotRange(prog, plan, s));
    if (k < plan.stageBytes.size() && plan.stageBytes[k] > 0)
      t[k].writes.push_back(
          {plan.scratch[k].first, plan.scratch[k].first + plan.stageBytes[k]});
  }
  return t;
}

bool overlap(const std::vector<Range> &a, const std::vector<Range> &b) {
  for (const Range &x : a)
    for (const Range &y : b)
      if (x.first < y.second && y.first < x.second && x.first < x.second &&
          y.first < y.second)
        return true;
  return false;
}

/// Whether step `later` must wait for step `earlier`.
bool conflicts(const Touch &later, const Touch &earlier) {
  return overlap(later.writes, earlier.reads) ||
         overlap(later.writes, earlier.writes) ||
         overlap(later.reads, earlier.writes);
}

/// Per step, the earlier steps it must wait for, latest first.
std::vector<std::vector<int>> dependences(const std::vector<Touch> &t) {
  std::vector<std::vector<int>> deps(t.size());
  for (int i = 0; i < int(t.size()); ++i)
    for (int j = i - 1; j >= 0; --j)
      if (conflicts(t[i], t[j]))
        deps[i].push_back(j);
  return deps;
}

/// Per step, the earlier steps that write a value it reads (its storage:
/// a view's is its base's), latest first: the data dependences alone,
/// without the ones the memory plan's reuse of bytes adds.
std::vector<std::vector<int>> valueDependences(const Program &prog) {
  std::vector<int> writer(prog.values.size(), -1);
  std::vector<std::vector<int>> deps(prog.steps.size());
  for (int k = 0; k < int(prog.steps.size()); ++k) {
    for (int s : prog.steps[k].inputs) {
      int w = writer[size_t(prog.values[size_t(s)].storage)];
      if (w >= 0)
        deps[k].push_back(w);
    }
    std::sort(deps[k].rbegin(), deps[k].rend());
    deps[k].erase(std::unique(deps[k].begin(), deps[k].end()), deps[k].end());
    for (int s : prog.steps[k].outputs)
      writer[size_t(prog.values[size_t(s)].storage)] = k;
  }
  return deps;
}

/// Per step, the most steps in a chain of dependences that ends with it
/// (`before`) and that starts with it (`after`).
void chains(const std::vector<std::vector<int>> &deps, std::vector<int> &before,
            std::vector<int> &after) {
  int n = int(deps.size());
  before.assign(size_t(n), 1);
  after.assign(size_t(n), 1);
  for (int i = 0; i < n; ++i)
    for (int j : deps[i])
      before[i] = std::max(before[i], before[j] + 1);
  for (int i = n - 1; i >= 0; --i)
    for (int j : deps[i])
      after[j] = std::max(after[j], after[i] + 1);
}

/// Per step, the latest step of each stream known finished when the step
/// starts (-1: none), from `stream` and `waits`: a stream runs its steps
/// in order, and a step waited for implies what it knew.
std::vector<std::vector<int>> knownAtStart(const StreamPlan &p) {
  int n = int(p.stream.size());
  std::vector<std::vector<int>> start(static_cast<size_t>(n)),
      done(static_cast<size_t>(n));
  std::vector<int> tail(size_t(p.streams), -1);
  for (int i = 0; i < n; ++i) {
    int s = p.stream[i];
    std::vector<int> known =
        tail[s] < 0 ? std::vector<int>(size_t(p.streams), -1) : done[tail[s]];
    for (int w : p.waits[i])
      for (int x = 0; x < p.streams; ++x)
        known[x] = std::max(known[x], done[w][x]);
    start[i] = known;
    known[s] = i;
    done[i] = known;
    tail[s] = i;
  }
  return start;
}

} // namespace

StreamPlan singleStream(const Program &prog) {
  StreamPlan p;
  p.stream.assign(prog.steps.size(), 0);
  p.waits.assign(prog.steps.size(), {});
  p.chainSteps = int(prog.steps.size());
  return p;
}

/// The steps after a side step through which the memory plan keeps its
/// bytes: the steps it may run beside. On Mini-ImageNet 5w5s's
/// meta-gradient, launches on the longest chain / planned CUDA arena: 1
/// step, 533 / 190.7 MB (the arena of one stream); 2, 531 / 207.6 (a
/// weight gradient beside the next layer's batch-norm backward and data
/// gradient, about as long on an H200 at 42x42: 124 against 50 + 57 us);
/// 3, 528 / 232.8; until the first step that reads its results, 528 /
/// 261.4.
constexpr int kSideWindow = 2;

std::vector<int> keepUntilForStreams(const Program &prog) {
  int n = int(prog.steps.size());
  std::vector<int> keep(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k)
    keep[k] = k;
  if (n == 0)
    return keep;
  std::vector<std::vector<int>> deps = valueDependences(prog);
  std::vector<int> before, after;
  chains(deps, before, after);
  int longest = *std::max_element(before.begin(), before.end());
  std::vector<int> firstReader(size_t(n), n);
  for (int i = 0; i < n; ++i)
    for (int j : deps[i])
      firstReader[j] = std::min(firstReader[j], i);
  // Steps on a longest chain at the same depth do not depend on each
  // other (the first layer's weight and bias gradients): all but the
  // last are side steps too, so that the later ones can run beside them.
  std::vector<char> depthTaken(size_t(longest) + 1, 0);
  for (int k = n - 1; k >= 0; --k) {
    bool onChain = before[k] + after[k] - 1 == longest;
    if (onChain && !depthTaken[size_t(before[k])]) {
      depthTaken[size_t(before[k])] = 1;
      continue;
    }
    keep[k] = std::min(firstReader[k] - 1, k + kSideWindow);
  }
  return keep;
}

StreamPlan planStreams(const Program &prog, const MemoryPlan &plan,
                       int maxStreams) {
  StreamPlan p = singleStream(prog);
  int n = int(prog.steps.size());
  if (maxStreams < 2 || n == 0)
    return p;
  for (int k = 0; k < n && k < int(plan.keepUntil.size()); ++k)
    p.sideSteps += plan.keepUntil[k] > k;
  std::vector<int> before, after;
  std::vector<std::vector<int>> deps = dependences(touches(prog, plan));
  chains(deps, before, after);
  p.chainSteps = *std::max_element(before.begin(), before.end());
  // Each step on the stream whose last step it depends on latest (no wait
  // for that one), else on the stream idle longest; then a wait for its
  // latest dependence on each other stream not yet known finished.
  std::vector<int> tail(size_t(maxStreams), -1);
  std::vector<std::vector<int>> done(static_cast<size_t>(n));
  p.streams = 1;
  for (int i = 0; i < n; ++i) {
    int s = -1;
    for (int j : deps[i]) { // latest first
      auto on = std::find(tail.begin(), tail.end(), j);
      if (on != tail.end()) {
        s = int(on - tail.begin());
        break;
      }
    }
    if (s < 0)
      s = int(std::min_element(tail.begin(), tail.end()) - tail.begin());
    p.streams = std::max(p.streams, s + 1);
    std::vector<int> known =
        tail[s] < 0 ? std::vector<int>(size_t(maxStreams), -1) : done[tail[s]];
    for (int j : deps[i]) {
      int on = p.stream[j];
      if (known[on] >= j)
        continue;
      p.waits[i].push_back(j);
      for (int x = 0; x < maxStreams; ++x)
        known[x] = std::max(known[x], done[j][x]);
    }
    known[s] = i;
    done[i] = known;
    p.stream[i] = s;
    tail[s] = i;
  }
  return p;
}

std::string verifyStreamPlan(const Program &prog, const MemoryPlan &plan,
                             const StreamPlan &streams) {
  int n = int(prog.steps.size());
  if (int(streams.stream.size()) != n || int(streams.waits.size()) != n)
    return "the plan has not one stream and wait list per step";
  for (int i = 0; i < n; ++i) {
    if (streams.stream[i] < 0 || streams.stream[i] >= streams.streams)
      return "step " + std::to_string(i) + " is on no planned stream";
    for (int w : streams.waits[i])
      if (w < 0 || w >= i)
        return "step " + std::to_string(i) + " waits for a step not before it";
  }
  std::vector<Touch> t = touches(prog, plan);
  std::vector<std::vector<int>> start = knownAtStart(streams);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j)
      if (conflicts(t[i], t[j]) && start[i][streams.stream[j]] < j)
        return "step " + std::to_string(i) + " may run before step " +
               std::to_string(j) + ", which touches its bytes";
  return "";
}

} // namespace lopt::codegen
