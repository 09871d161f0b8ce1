#include "codegen/HostTarget.h"

namespace lopt::codegen {

namespace {
/// Whether the CPU has what LLVM's `sapphirerapids` may use beyond AVX-512
/// BF16: AVX-VNNI and AVX512-FP16 (a Zen 4 has neither, a Zen 5 no FP16).
/// Asked as a binary's CpuCheck asks (GCC's CPU model, which also checks
/// that the OS saves the registers).
bool hasSapphireRapidsExtras() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avxvnni") && __builtin_cpu_supports("avx512fp16");
#else
  return false;
#endif
}
} // namespace

Halide::Target runnableHere(Halide::Target t) {
  if (t.has_feature(Halide::Target::AVX512_SapphireRapids) && !hasSapphireRapidsExtras())
    t = t.without_feature(Halide::Target::AVX512_SapphireRapids);
  return t;
}

Halide::Target jitTarget() {
  return runnableHere(Halide::get_jit_target_from_environment());
}

} // namespace lopt::codegen
