//===- HandBuiltPrograms.h - kernel programs built by hand for tests -*- C++ -*-===//
//
// Programs of steps on value slots, without MLIR or Halide, for the tests of
// the planners that place and order them (MemoryPlanTest, StreamPlanTest).
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_TESTS_UNIT_CODEGEN_HANDBUILTPROGRAMS_H
#define LOPT_TESTS_UNIT_CODEGEN_HANDBUILTPROGRAMS_H

#include "codegen/Program.h"

#include <random>

namespace lopt::codegen::handbuilt {

/// A value, or a view of `viewOf` from its element `first` on.
inline int addValue(Program &p, Shape shape, int viewOf = -1, int64_t first = 0) {
  int id = int(p.values.size());
  p.values.push_back(
      viewOf < 0 ? ProgramValue{std::move(shape), false, id}
                 : ProgramValue{std::move(shape), false, p.values[viewOf].storage,
                                p.values[viewOf].offset + first});
  return id;
}

inline void addStep(Program &p, std::vector<int> in, std::vector<int> out) {
  ProgramStep s;
  s.kernel = 0;
  s.inputs = std::move(in);
  s.outputs = std::move(out);
  p.steps.push_back(std::move(s));
}

/// A chain x -> a -> b -> c -> y of 1 KiB buffers (steps 0 to 3).
inline Program chain() {
  Program p;
  int prev = addValue(p, {256});
  p.args = {prev};
  for (int i = 0; i < 4; ++i) {
    int next = addValue(p, {256});
    addStep(p, {prev}, {next});
    prev = next;
  }
  p.results = {prev};
  return p;
}

/// 40 steps reading 1 to 3 earlier values (or the 3 arguments) and making
/// 1 or 2, sometimes with an unused view; two results. With `stages`,
/// the bytes of stages at some steps (a CUDA binary's) into it.
inline Program randomProgram(std::mt19937 &rng, std::vector<int64_t> *stages) {
  Program p;
  for (int a = 0; a < 3; ++a)
    p.args.push_back(addValue(p, {int64_t(1 + rng() % 300)}));
  for (int k = 0; k < 40; ++k) {
    std::vector<int> in;
    for (int i = 0; i < 1 + int(rng() % 3); ++i)
      in.push_back(int(rng() % p.values.size()));
    std::vector<int> out;
    for (int o = 0; o < 1 + int(rng() % 2); ++o)
      out.push_back(addValue(p, {int64_t(1 + rng() % 500)}));
    if (rng() % 4 == 0)
      addValue(p, p.values[out[0]].shape, out[0]); // an unused view
    addStep(p, in, out);
  }
  p.results = {int(p.values.size()) - 1, int(rng() % p.values.size())};
  if (stages)
    for (size_t k = 0; k < p.steps.size(); ++k)
      stages->push_back(rng() % 3 == 0 ? int64_t(256 * (1 + rng() % 8)) : 0);
  return p;
}

} // namespace lopt::codegen::handbuilt

#endif // LOPT_TESTS_UNIT_CODEGEN_HANDBUILTPROGRAMS_H
