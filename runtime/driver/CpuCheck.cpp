//===- CpuCheck.cpp - whether this CPU runs the binary's kernels ----------===//
#include "runtime/driver/CpuCheck.h"

#include <map>
#include <sstream>

namespace lopt::driver {

namespace {

/// Halide 14's x86 target features and the CPU flags LLVM may use for each
/// (CodeGen_X86's attributes; avx512_sapphirerapids is LLVM's CPU
/// `sapphirerapids`, which brings AVX-VNNI and AVX512-FP16 too).
const std::map<std::string, std::vector<std::string>> &featureFlags() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"sse41", {"sse4.1"}},
      {"avx", {"avx"}},
      {"avx2", {"avx2"}},
      {"fma", {"fma"}},
      {"fma4", {"fma4"}},
      {"f16c", {"f16c"}},
      {"avx512", {"avx512f", "avx512cd"}},
      {"avx512_knl", {"avx512f", "avx512cd", "avx512pf", "avx512er"}},
      {"avx512_skylake", {"avx512vl", "avx512bw", "avx512dq"}},
      {"avx512_cannonlake", {"avx512ifma", "avx512vbmi"}},
      {"avx512_sapphirerapids", {"avx512bf16", "avx512vnni", "avxvnni", "avx512fp16"}},
  };
  return table;
}

/// This CPU's flags of featureFlags (GCC's builtin takes literals only).
std::map<std::string, bool> hostFlags() {
  std::map<std::string, bool> flags;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
#define LOPT_FLAG(name) flags[name] = __builtin_cpu_supports(name) != 0
  LOPT_FLAG("sse4.1");
  LOPT_FLAG("avx");
  LOPT_FLAG("avx2");
  LOPT_FLAG("fma");
  LOPT_FLAG("fma4");
  LOPT_FLAG("f16c");
  LOPT_FLAG("avx512f");
  LOPT_FLAG("avx512cd");
  LOPT_FLAG("avx512pf");
  LOPT_FLAG("avx512er");
  LOPT_FLAG("avx512vl");
  LOPT_FLAG("avx512bw");
  LOPT_FLAG("avx512dq");
  LOPT_FLAG("avx512ifma");
  LOPT_FLAG("avx512vbmi");
  LOPT_FLAG("avx512bf16");
  LOPT_FLAG("avx512vnni");
  LOPT_FLAG("avxvnni");
  LOPT_FLAG("avx512fp16");
#undef LOPT_FLAG
#endif
  return flags;
}

/// `items` separated by ", ".
std::string commaList(const std::vector<std::string> &items) {
  std::string list;
  for (const std::string &item : items)
    list += (list.empty() ? "" : ", ") + item;
  return list;
}

} // namespace

std::vector<std::string>
missingCpuFeatures(const std::string &target,
                   const std::function<bool(const std::string &)> &has) {
  std::vector<std::string> parts;
  std::istringstream in(target);
  for (std::string p; std::getline(in, p, '-');)
    parts.push_back(p);
  std::vector<std::string> missing;
  if (parts.empty() || parts[0] != "x86")
    return missing;
  for (const std::string &feature : parts) {
    auto flags = featureFlags().find(feature);
    if (flags == featureFlags().end())
      continue;
    std::vector<std::string> lacks;
    for (const std::string &f : flags->second)
      if (!has(f))
        lacks.push_back(f);
    if (!lacks.empty())
      missing.push_back(feature + " (" + commaList(lacks) + ")");
  }
  return missing;
}

std::string checkCpu(const std::string &target) {
#if defined(__x86_64__) || defined(__i386__)
  std::map<std::string, bool> flags = hostFlags();
  std::vector<std::string> missing = missingCpuFeatures(
      target, [&](const std::string &f) {
        auto it = flags.find(f);
        return it != flags.end() && it->second;
      });
  if (missing.empty())
    return "";
  return "this CPU lacks " + commaList(missing) + ", which the kernels were compiled for (target " +
         target + "); build the binary again on this machine (loptc's default "
         "target, host, is the building CPU's), or with a --target that names "
         "only features this CPU has (e.g. x86-64-linux-avx-avx2-f16c-fma-sse41)";
#else
  (void)target;
  return "";
#endif
}

} // namespace lopt::driver
