//===- HostTarget.h - Halide targets this CPU runs --------------*- C++ -*-===//
//
// Halide 14 takes a CPU with AVX-512 BF16 for a Sapphire Rapids
// (avx512_sapphirerapids, LLVM's CPU `sapphirerapids`), so LLVM may emit
// AVX-VNNI's VEX-encoded instructions (`{vex} vpdpwssd`) and AVX512-FP16's,
// which an AMD Zen 4 lacks: on one, JIT-compiled kernels (max-pooling's,
// seen in lopt's tests) and binaries built for `host` stopped on SIGILL
// (halide/Halide#7834, fixed after Halide 14).
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_HOSTTARGET_H
#define LOPT_CODEGEN_HOSTTARGET_H

#include <Halide.h>

namespace lopt::codegen {

/// `t` without the features that Halide detected on this CPU but that it
/// lacks (avx512_sapphirerapids where the CPU has no AVX-VNNI or no
/// AVX512-FP16). For targets that run here: the JIT's, and those named
/// `host...`.
Halide::Target runnableHere(Halide::Target t);

/// The JIT's target (Halide's get_jit_target_from_environment), runnable here.
Halide::Target jitTarget();

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_HOSTTARGET_H
