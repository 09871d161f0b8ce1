//===- Recompute.h - stages computed where they are read --------*- C++ -*-===//
//
// Part of lopt. Which stages the lowering stores are computed where they
// are read instead: the same rule on every target, with each target's
// limits (GpuSchedule.cpp, CpuSchedule.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_RECOMPUTE_H
#define LOPT_CODEGEN_RECOMPUTE_H

#include "codegen/HalideLowering.h"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lopt::codegen {

/// The Funcs `f`'s definitions call (each once).
std::vector<Halide::Internal::Function> callees(const Halide::Internal::Function &f);

/// Whether `f` calls a Func that `hit` accepts (by name), directly or
/// through the Funcs that `through` accepts; `memo` keeps the answers
/// (for one pair of predicates). A Func's calls of itself (a sum's update)
/// add nothing.
bool readsAny(const Halide::Internal::Function &f,
              const std::function<bool(const std::string &)> &hit,
              const std::function<bool(const Halide::Internal::Function &)> &through,
              std::map<std::string, bool> &memo);

/// Whether `f` is computed where it is read (Halide's compute_inline).
bool isInlined(const Halide::Internal::Function &f);

/// The stages (of `launched`, by name) whose stored values `fn` reads,
/// looking through the Funcs computed where they are read (added to
/// `reads`; `seen`: the Funcs looked through).
void storedReads(const Halide::Internal::Function &fn,
                 const std::map<std::string, Halide::Func> &launched,
                 std::set<std::string> &reads, std::set<std::string> &seen);

/// How cheap a stored stage must be to be computed where it is read.
struct RecomputeRule {
  /// The most operations per element.
  int64_t cost;
  /// A stage of at least `largeStage` elements is recomputed up to
  /// `costLarge` instead (storing it costs more).
  int64_t largeStage, costLarge;
  /// A short reduction (below) is also recomputed by readers larger than
  /// its stage where they have at most this many elements.
  int64_t smallReader;
};

/// Makes the stages of `k` that the algorithm stores computed where they
/// are read instead (compute_inline), and returns their names: those
/// neither an output, nor kept stored by the lowering
/// (LoweredKernel::keptStored) or by the caller (`keep`), nor a sum, whose
/// element costs at most the rule's cost. An element's cost: its
/// definition's IR nodes, and for each read of another Func the cost of
/// that read: 1 (a load) for a stored stage, the Func's own cost for one
/// computed in place; an inline reduction (a sum inside a definition)
/// costs its terms times one term's cost, and is never recomputed if longer
/// than 8 terms (a cross entropy's row maximum over 5 logits is recomputed
/// by the loss of each row), nor by readers larger than its stage beyond
/// the rule's smallReader (not every pixel reading a channel's mean).
std::set<std::string> recompute(const LoweredKernel &k, const std::set<std::string> &keep,
                                const RecomputeRule &rule);

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_RECOMPUTE_H
