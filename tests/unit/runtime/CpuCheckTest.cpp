// A binary says which CPU features it lacks instead of stopping on SIGILL
// (runtime/driver/CpuCheck.h): the features a target string needs, against
// a given set of CPU flags.
#include "runtime/driver/CpuCheck.h"

#include <gtest/gtest.h>

#include <set>

namespace {

using lopt::driver::missingCpuFeatures;

std::function<bool(const std::string &)> flags(std::set<std::string> have) {
  return [have](const std::string &f) { return have.count(f) > 0; };
}

// An AMD Zen 4: AVX-512 with BF16 and VNNI, but no AVX-VNNI or FP16.
const std::set<std::string> zen4 = {
    "sse4.1", "avx", "avx2", "fma", "f16c", "avx512f", "avx512cd", "avx512vl",
    "avx512bw", "avx512dq", "avx512ifma", "avx512vbmi", "avx512bf16", "avx512vnni"};

TEST(CpuCheck, NamesEachMissingFeatureAndItsFlags) {
  std::vector<std::string> missing = missingCpuFeatures(
      "x86-64-linux-avx-avx2-avx512-avx512_cannonlake-avx512_sapphirerapids-"
      "avx512_skylake-f16c-fma-sse41",
      flags(zen4));
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], "avx512_sapphirerapids (avxvnni, avx512fp16)");
  // An AVX2 machine (no AVX-512) runs none of the AVX-512 kernels.
  missing = missingCpuFeatures("x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41",
                               flags({"sse4.1", "avx", "avx2", "fma", "f16c"}));
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0], "avx512 (avx512f, avx512cd)");
  EXPECT_EQ(missing[1], "avx512_skylake (avx512vl, avx512bw, avx512dq)");
}

TEST(CpuCheck, NothingMissingWhereTheFlagsAreThere) {
  EXPECT_TRUE(missingCpuFeatures("x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41",
                                 flags(zen4))
                  .empty());
  // Features that are not the CPU's (a GPU API, the JIT's) need no flag.
  EXPECT_TRUE(missingCpuFeatures("x86-64-linux-avx2-cuda-cuda_capability_80-jit",
                                 flags({"avx2"}))
                  .empty());
  // Another architecture's target: nothing to check with x86 flags.
  EXPECT_TRUE(missingCpuFeatures("arm-64-linux-arm_dot_prod", flags({})).empty());
}

TEST(CpuCheck, ThisCpuRunsItsOwnBaseline) {
  // Every x86-64 CPU has SSE2; the default of a plain x86-64 target asks
  // for nothing more.
  EXPECT_EQ(lopt::driver::checkCpu("x86-64-linux"), "");
}

} // namespace
