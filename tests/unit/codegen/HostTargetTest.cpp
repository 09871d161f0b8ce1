// The Halide targets that lopt JIT-compiles for, or builds `host` binaries
// for, use only instructions this CPU has. Halide 14 took an AMD Zen 4
// (AVX-512 BF16, no AVX-VNNI, no AVX512-FP16) for a Sapphire Rapids, and
// its kernels then stopped on SIGILL there (`{vex} vpdpwssd`). The oracle is the kernel's
// list of CPU flags, not the CPU model the code asks (GCC's builtin).
#include "codegen/AotCompiler.h"
#include "codegen/HostTarget.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {

/// Whether /proc/cpuinfo lists `flag` for the first CPU (false: unknown).
bool cpuFlag(const std::string &flag, bool &known) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      known = true;
      std::istringstream words(line.substr(line.find(':') + 1));
      std::string w;
      while (words >> w)
        if (w == flag)
          return true;
      return false;
    }
  known = false;
  return false;
}

TEST(HostTarget, NoSapphireRapidsFeaturesWithoutAvxVnniOrFp16) {
  bool known = false;
  bool vnni = cpuFlag("avx_vnni", known), fp16 = cpuFlag("avx512_fp16", known);
  if (!known)
    GTEST_SKIP() << "no CPU flags in /proc/cpuinfo";
  if (vnni && fp16)
    GTEST_SKIP() << "this CPU has AVX-VNNI and AVX512-FP16: nothing to take away";
  using Halide::Target;
  EXPECT_FALSE(lopt::codegen::jitTarget().has_feature(Target::AVX512_SapphireRapids));
  // What `loptc -o` builds for: `host`, `host-cuda`; a target named for
  // another machine is left as it is (built here, run there).
  lopt::codegen::ResolvedTarget t;
  std::string error;
  for (const char *name : {"host", "host-cuda"}) {
    ASSERT_TRUE(lopt::codegen::resolveTarget(name, t, error)) << error;
    EXPECT_EQ(t.full.find("sapphirerapids"), std::string::npos) << name << ": " << t.full;
  }
  ASSERT_TRUE(lopt::codegen::resolveTarget("x86-64-linux-avx512_sapphirerapids", t, error))
      << error;
  EXPECT_NE(t.full.find("avx512_sapphirerapids"), std::string::npos) << t.full;
}

TEST(HostTarget, JitTargetKeepsWhatTheCpuHas) {
  bool known = false;
  bool avx2 = cpuFlag("avx2", known);
  if (!known || !avx2)
    GTEST_SKIP() << "no AVX2 listed in /proc/cpuinfo";
  EXPECT_TRUE(lopt::codegen::jitTarget().has_feature(Halide::Target::AVX2));
}

} // namespace
