//===- HalideCheck.h - Halide 14 in the compiler's process ------*- C++ -*-===//
//
// The narrow interface to Halide (Halide.h and its -fexceptions flag stay in
// HalideCheck.cpp). Code generation builds on this library; for now it holds
// the check that Halide JIT-compiles and runs next to the statically linked
// MLIR 19 (loptc --check-halide), a set-up with known pitfalls
// (../shared/TOOLCHAIN.md).
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_HALIDECHECK_H
#define LOPT_CODEGEN_HALIDECHECK_H

#include <string>

namespace lopt::codegen {

/// JIT-compiles and runs a small vectorised, parallel Halide pipeline for the
/// host and checks its output. Returns false with `report` saying what failed;
/// on success `report` names the target used.
bool checkHalide(std::string &report);

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_HALIDECHECK_H
