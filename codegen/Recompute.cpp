//===- Recompute.cpp - stages computed where they are read ---------------===//
//
// Which of the stages the lowering stores are computed where they are read
// instead (Halide's compute_inline), by a cost rule that each target's
// schedule gives (GpuSchedule.cpp, CpuSchedule.cpp).
//
//===----------------------------------------------------------------------===//
#include "codegen/Recompute.h"

#include <limits>
#include <map>

namespace lopt::codegen {

using namespace Halide;

std::vector<Internal::Function> callees(const Internal::Function &f) {
  struct Calls : Internal::IRGraphVisitor {
    using IRGraphVisitor::visit;
    std::vector<Internal::Function> found;
    std::set<std::string> seen;
    void visit(const Internal::Call *c) override {
      if (c->call_type == Internal::Call::Halide && c->func.defined() &&
          seen.insert(c->name).second)
        found.push_back(Internal::Function(c->func));
      IRGraphVisitor::visit(c);
    }
  } calls;
  std::vector<Internal::Definition> defs = {f.definition()};
  for (const Internal::Definition &u : f.updates())
    defs.push_back(u);
  for (const Internal::Definition &d : defs) {
    for (const Expr &e : d.values())
      e.accept(&calls);
    for (const Expr &e : d.args())
      e.accept(&calls);
  }
  return calls.found;
}

bool readsAny(const Internal::Function &f,
              const std::function<bool(const std::string &)> &hit,
              const std::function<bool(const Internal::Function &)> &through,
              std::map<std::string, bool> &memo) {
  auto known = memo.find(f.name());
  if (known != memo.end())
    return known->second;
  // (A sum's update reads the sum itself: no answer yet while looking.)
  memo[f.name()] = false;
  bool r = false;
  for (const Internal::Function &c : callees(f))
    r = r || hit(c.name()) || (through(c) && readsAny(c, hit, through, memo));
  return memo[f.name()] = r;
}

bool isInlined(const Internal::Function &f) {
  LoopLevel level = f.schedule().compute_level(); // a copy, to inspect
  return level.lock().is_inlined();
}

void storedReads(const Internal::Function &fn,
                 const std::map<std::string, Func> &launched,
                 std::set<std::string> &reads, std::set<std::string> &seen) {
  for (const Internal::Function &c : callees(fn))
    if (launched.count(c.name()))
      reads.insert(c.name());
    else if (seen.insert(c.name()).second)
      storedReads(c, launched, reads, seen);
}

namespace {

/// An inline reduction of at most this many terms (a row of 5 logits'
/// maximum) may be recomputed where it is read.
constexpr int64_t kShortReduction = 8;

/// See recompute() in Recompute.h.
class Recompute {
public:
  Recompute(const LoweredKernel &k, const std::set<std::string> &keep,
            const RecomputeRule &rule)
      : rule(rule) {
    std::map<std::string, Func> stages;
    for (auto &[f, shape] : k.stages) {
      elements[f.name()] = numElements(shape);
      stages[f.name()] = f;
    }
    for (auto &[f, shape] : k.stages) {
      std::set<std::string> reads, seen;
      storedReads(f.function(), stages, reads, seen);
      for (const std::string &r : reads)
        largestReader[r] = std::max(largestReader[r], numElements(shape));
      if (!f.has_update_definition() && !keep.count(f.name())) {
        candidates[f.name()] = f;
        if (numElements(shape) >= rule.largeStage)
          large.insert(f.name());
      }
    }
    for (const Func &o : k.outputs)
      candidates.erase(o.name());
    for (const std::string &t : k.keptStored)
      candidates.erase(t);
  }

  /// Inlines every candidate cheap enough; returns the names of those
  /// inlined.
  std::set<std::string> run() {
    for (auto &[name, f] : candidates)
      cost(f.function());
    return inlined;
  }

private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max() / 4;

  /// Counts IR nodes, adding the cost of each Func read.
  struct Counter : Internal::IRGraphVisitor {
    explicit Counter(Recompute &r) : r(r) {}
    Recompute &r;
    int64_t total = 0;
    bool reduces = false; // an inline reduction is read
    using IRGraphVisitor::include;
    using IRGraphVisitor::visit;
    void include(const Expr &e) override {
      total = std::min(kNever, total + 1);
      IRGraphVisitor::include(e);
    }
    void visit(const Internal::Call *c) override {
      if (c->call_type == Internal::Call::Halide && c->func.defined()) {
        Internal::Function fn(c->func);
        total = std::min(kNever, total + r.cost(fn));
        reduces = reduces || (fn.has_update_definition() && isInlined(fn)) ||
                  r.reducing.count(fn.name());
      }
      IRGraphVisitor::visit(c);
    }
  };

  /// The cost of reading one element of `fn`.
  int64_t cost(const Internal::Function &fn) {
    auto known = memo.find(fn.name());
    if (known != memo.end())
      return known->second;
    bool inPlace = isInlined(fn);
    if (fn.has_update_definition() && !inPlace)
      return memo[fn.name()] = 1;
    if (fn.has_update_definition()) {
      // An inline reduction (maximum(...) over a row): its terms times
      // the cost of one, if at most kShortReduction.
      int64_t terms = 1;
      for (const Internal::ReductionVariable &rv : fn.update(0).schedule().rvars()) {
        const int64_t *extent = Internal::as_const_int(Internal::simplify(rv.extent));
        terms *= extent ? *extent : kNever;
      }
      if (fn.updates().size() != 1 || terms > kShortReduction)
        return memo[fn.name()] = kNever;
      memo[fn.name()] = 0; // its own value, read by its update
      Counter counter(*this);
      for (const Expr &e : fn.update(0).values())
        counter.include(e);
      return memo[fn.name()] = std::min(kNever, terms * counter.total);
    }
    auto candidate = candidates.find(fn.name());
    if (candidate == candidates.end() && !inPlace)
      return memo[fn.name()] = 1; // an output
    Counter counter(*this);
    for (const Expr &e : fn.definition().values())
      counter.include(e);
    if (counter.reduces)
      reducing.insert(fn.name());
    if (candidate == candidates.end())
      return memo[fn.name()] = counter.total; // inlined by the algorithm
    if (counter.total >
            (large.count(fn.name()) ? rule.costLarge : rule.cost) ||
        (counter.reduces && largestReader[fn.name()] > elements.at(fn.name()) &&
         largestReader[fn.name()] > rule.smallReader))
      return memo[fn.name()] = 1;
    candidate->second.compute_inline();
    inlined.insert(fn.name());
    return memo[fn.name()] = counter.total;
  }

  RecomputeRule rule;
  std::map<std::string, Func> candidates;
  std::set<std::string> large; // candidates of rule.largeStage elements or more
  /// Per stage, its elements, and the most elements of a stage that reads
  /// it: a short reduction is recomputed by readers no larger than its
  /// stage (a row's loss, not every pixel reading a channel's mean) or
  /// than rule.smallReader.
  std::map<std::string, int64_t> elements, largestReader;
  std::set<std::string> reducing; // Funcs in place that read an inline reduction
  std::map<std::string, int64_t> memo;
  std::set<std::string> inlined;
};

} // namespace

std::set<std::string> recompute(const LoweredKernel &k, const std::set<std::string> &keep,
                                const RecomputeRule &rule) {
  return Recompute(k, keep, rule).run();
}

} // namespace lopt::codegen
