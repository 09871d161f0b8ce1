//===- AotCompiler.cpp - kernels as object files --------------------------===//
#include "codegen/AotCompiler.h"
#include "codegen/HalideLowering.h"

#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace lopt::codegen {

using namespace Halide;

namespace {

std::string kernelName(size_t i) { return "lopt_k" + std::to_string(i); }

bool parseTarget(const std::string &name, Target &t, std::string &error) {
  std::string full = name.empty() ? "host" : name;
  if (!Target::validate_target_string(full)) {
    error = "'" + name + "' is not a Halide target (try host, or "
            "x86-64-linux-avx2)";
    return false;
  }
  t = Target(full);
  return true;
}

Pipeline lowered(const KernelGraph &g, const Target &t,
                 std::vector<Argument> &args, std::string &error, bool &ok) {
  LoweredKernel k;
  ok = lowerKernel(g, k, error);
  if (!ok)
    return Pipeline();
  scheduleForCpu(g, k, t);
  for (ImageParam &p : k.params)
    args.push_back(p);
  return Pipeline(k.outputs);
}

/// Compiles kernels i = first, first + stride, ... into `dir`.
bool compileSome(const KernelTable &table, const std::string &dir,
                 const Target &t, size_t first, size_t stride,
                 const AotOptions &opts, std::string &error) {
  try {
    for (size_t i = first; i < table.kernels.size(); i += stride) {
      std::vector<Argument> args;
      bool ok;
      Pipeline p = lowered(table.kernels[i], t, args, error, ok);
      if (!ok)
        return false;
      p.compile_to_object(dir + "/" + kernelName(i) + ".o", args,
                          kernelName(i), t);
      if (opts.progress && stride == 1)
        opts.progress(i + 1, table.kernels.size());
    }
    return true;
  } catch (const Halide::Error &e) {
    error = std::string("Halide: ") + e.what();
    return false;
  }
}

} // namespace

bool validTarget(const std::string &target, std::string &error) {
  Target t;
  return parseTarget(target, t, error);
}

bool compileKernels(const KernelTable &table, const std::string &dir,
                    const AotOptions &opts, std::vector<std::string> &objects,
                    std::string &error) {
  Target t;
  if (!parseTarget(opts.target, t, error))
    return false;
  t = t.with_feature(Target::NoRuntime);
  size_t jobs = std::max<size_t>(
      1, std::min<size_t>(size_t(opts.jobs), table.kernels.size()));
  if (jobs == 1) {
    if (!compileSome(table, dir, t, 0, 1, opts, error))
      return false;
  } else {
    // Each process compiles every jobs-th kernel; a failing one leaves its
    // message in a file. (Halide compiles one pipeline at a time per
    // process.)
    std::vector<pid_t> pids;
    for (size_t j = 0; j < jobs; ++j) {
      pid_t pid = fork();
      if (pid == 0) {
        std::string err;
        bool ok = compileSome(table, dir, t, j, jobs, opts, err);
        if (!ok)
          std::ofstream(dir + "/error." + std::to_string(j)) << err;
        _exit(ok ? 0 : 1);
      }
      if (pid < 0) {
        error = "cannot start a compile process";
        return false;
      }
      pids.push_back(pid);
    }
    bool ok = true;
    for (size_t j = 0; j < jobs; ++j) {
      int status = 0;
      waitpid(pids[j], &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::ifstream in(dir + "/error." + std::to_string(j));
        std::stringstream ss;
        ss << in.rdbuf();
        if (ok)
          error = ss.str().empty() ? "a compile process failed" : ss.str();
        ok = false;
      }
    }
    if (!ok)
      return false;
    if (opts.progress)
      opts.progress(table.kernels.size(), table.kernels.size());
  }
  objects.clear();
  for (size_t i = 0; i < table.kernels.size(); ++i)
    objects.push_back(dir + "/" + kernelName(i) + ".o");
  try {
    Target rt;
    parseTarget(opts.target, rt, error);
    compile_standalone_runtime(dir + "/halide_runtime.o", rt);
  } catch (const Halide::Error &e) {
    error = std::string("Halide runtime: ") + e.what();
    return false;
  }
  objects.push_back(dir + "/halide_runtime.o");
  return true;
}

bool kernelStatement(const KernelTable &table, size_t index,
                     const std::string &target, std::string &text,
                     std::string &error) {
  Target t;
  if (!parseTarget(target, t, error))
    return false;
  try {
    std::vector<Argument> args;
    bool ok;
    Pipeline p = lowered(table.kernels[index], t, args, error, ok);
    if (!ok)
      return false;
    char tmpl[] = "/tmp/lopt-stmt-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) {
      error = "cannot create a temporary file";
      return false;
    }
    close(fd);
    p.compile_to_lowered_stmt(tmpl, args, Text, t.with_feature(Target::NoRuntime));
    std::ifstream in(tmpl);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    unlink(tmpl);
    return true;
  } catch (const Halide::Error &e) {
    error = std::string("Halide: ") + e.what();
    return false;
  }
}

} // namespace lopt::codegen
