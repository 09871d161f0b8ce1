#include "codegen/HostTarget.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace lopt::codegen {

namespace {
/// Whether the CPU has what LLVM's `sapphirerapids` may use beyond AVX-512
/// BF16: AVX-VNNI (CPUID leaf 7 sub-leaf 1, EAX bit 4) and AVX512-FP16
/// (leaf 7 sub-leaf 0, EDX bit 23). A Zen 4 has neither, a Zen 5 no FP16.
bool hasSapphireRapidsExtras() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 4) & 1u))
    return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return false;
  return (d >> 23) & 1u;
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
