//===- AotCompiler.cpp - kernels as object files --------------------------===//
#include "codegen/AotCompiler.h"
#include "codegen/HalideLowering.h"
#include "codegen/HostTarget.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Cached objects carry this in their names: bump it when the lowering or
/// the schedules change what a kernel compiles to.
constexpr const char *kCodegenVersion = "3";

/// And this: the compiler executable's size and time, so that a rebuilt
/// loptc never reuses objects of an older one.
std::string compilerFingerprint() {
  struct stat st;
  if (stat("/proc/self/exe", &st) != 0)
    return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llx-%llx", (long long)st.st_size,
                (long long)st.st_mtime);
  return buf;
}

bool parseTarget(const std::string &name, Target &t, std::string &error) {
  std::string full = name.empty() ? "host" : name;
  if (!Target::validate_target_string(full)) {
    error = "'" + name + "' is not a Halide target (try host, host-cuda, "
            "host-opencl or x86-64-linux-avx2)";
    return false;
  }
  t = Target(full);
  if (full.rfind("host", 0) == 0)
    t = runnableHere(t);
  // Without a named capability Halide 14 emits PTX for sm_20, which no
  // current GPU runs: sm_80 PTX, JIT-compiled by the driver for newer GPUs.
  if (t.has_feature(Target::CUDA) && t.get_cuda_capability_lower_bound() < 30)
    t = t.with_feature(Target::CUDACapability80);
  // Batch-norm statistics are summed in double, as the interpreter does.
  if (t.has_feature(Target::OpenCL))
    t = t.with_feature(Target::CLDoubles);
  if (t.has_gpu_feature() && !t.has_feature(Target::CUDA) &&
      !t.has_feature(Target::OpenCL)) {
    error = "'" + name + "': lopt's GPU schedules are built and checked for "
            "CUDA and OpenCL only";
    return false;
  }
  int apis = 0;
  for (Target::Feature f : {Target::CUDA, Target::OpenCL, Target::Metal,
                            Target::D3D12Compute, Target::OpenGLCompute})
    apis += t.has_feature(f);
  if (apis > 1) {
    error = "'" + name + "' names more than one GPU API; name one (cuda or "
            "opencl)";
    return false;
  }
  return true;
}

Pipeline lowered(const KernelGraph &g, const Target &t,
                 std::vector<Argument> &args, std::string &error, bool &ok,
                 int64_t *stageBytes = nullptr) {
  LoweredKernel k;
  bool gpu = t.has_gpu_feature();
  ok = lowerKernel(g, k, error, gpu ? &t : nullptr);
  if (!ok)
    return Pipeline();
  if (gpu)
    scheduleForGpu(g, k, t);
  else
    scheduleForCpu(g, k, t);
  for (ImageParam &p : k.params)
    args.push_back(p);
  if (stageBytes)
    *stageBytes = k.deviceStageBytes;
  return Pipeline(k.outputs);
}

/// Compiles kernels todo[first], todo[first + stride], ... to `paths`
/// (through a temporary name, so that a cache never holds half an object).
bool compileSome(const KernelTable &table, const std::vector<size_t> &todo,
                 const std::vector<std::string> &paths, const Target &t,
                 size_t first, size_t stride, const AotOptions &opts,
                 std::string &error) {
  try {
    for (size_t j = first; j < todo.size(); j += stride) {
      size_t i = todo[j];
      std::vector<Argument> args;
      bool ok;
      Pipeline p = lowered(table.kernels[i], t, args, error, ok);
      if (!ok)
        return false;
      std::string tmp = paths[i] + ".tmp-" + std::to_string(getpid());
      p.compile_to_object(tmp, args, table.symbol(i), t);
      if (std::rename(tmp.c_str(), paths[i].c_str()) != 0) {
        error = "cannot write " + paths[i];
        return false;
      }
      if (opts.progress && stride == 1)
        opts.progress(j + 1, todo.size());
    }
    return true;
  } catch (const Halide::Error &e) {
    error = std::string("Halide: ") + e.what();
    return false;
  }
}

} // namespace

bool resolveTarget(const std::string &target, ResolvedTarget &out,
                   std::string &error) {
  Target t;
  if (!parseTarget(target, t, error))
    return false;
  out.full = t.to_string();
  out.deviceApi = t.has_feature(Target::CUDA)     ? "cuda"
                  : t.has_feature(Target::OpenCL) ? "opencl"
                                                  : "";
  return true;
}

bool compileKernels(const KernelTable &table, const std::string &dir,
                    const AotOptions &opts, std::vector<std::string> &objects,
                    std::string &error) {
  Target t;
  if (!parseTarget(opts.target, t, error))
    return false;
  t = t.with_feature(Target::NoRuntime);
  // Where each kernel's object goes, and which must be compiled.
  std::string tag = "-" + t.to_string() + "-v" + kCodegenVersion + "-" +
                    compilerFingerprint() + ".o";
  std::vector<std::string> paths;
  std::vector<size_t> todo;
  std::set<std::string> symbols;
  for (size_t i = 0; i < table.kernels.size(); ++i) {
    std::string sym = table.symbol(i);
    if (!symbols.insert(sym).second) {
      error = "two kernels hash to the symbol " + sym;
      return false;
    }
    paths.push_back(opts.cacheDir.empty() ? dir + "/" + sym + ".o"
                                          : opts.cacheDir + "/" + sym + tag);
    if (opts.cacheDir.empty() || access(paths.back().c_str(), R_OK) != 0)
      todo.push_back(i);
  }
  if (opts.plan)
    opts.plan(todo.size(), table.kernels.size());
  size_t jobs = std::max<size_t>(
      1, std::min<size_t>(size_t(opts.jobs), todo.size()));
  if (jobs == 1) {
    if (!compileSome(table, todo, paths, t, 0, 1, opts, error))
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
        bool ok = compileSome(table, todo, paths, t, j, jobs, opts, err);
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
      opts.progress(todo.size(), todo.size());
  }
  objects = paths;
  try {
    Target rt;
    parseTarget(opts.target, rt, error);
    std::string runtime = dir + "/halide_runtime.o";
    compile_standalone_runtime(runtime, rt);
    objects.push_back(runtime);
  } catch (const Halide::Error &e) {
    error = std::string("Halide runtime: ") + e.what();
    return false;
  }
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

bool kernelStageBytes(const KernelTable &table, const std::string &target,
                      std::vector<int64_t> &bytes, std::string &error) {
  Target t;
  if (!parseTarget(target, t, error))
    return false;
  bytes.assign(table.kernels.size(), 0);
  if (!t.has_gpu_feature() || table.kernels.empty())
    return true;
  int fds[2];
  if (pipe(fds) != 0) {
    error = "cannot start a process to count the kernels' stages";
    return false;
  }
  pid_t pid = fork();
  if (pid == 0) {
    // The counts, or a message and exit code 1.
    close(fds[0]);
    std::string out, err;
    bool ok = true;
    try {
      for (size_t i = 0; i < table.kernels.size() && ok; ++i) {
        std::vector<Argument> args;
        int64_t n = 0;
        lowered(table.kernels[i], t, args, err, ok, &n);
        out.append(reinterpret_cast<const char *>(&n), sizeof n);
      }
    } catch (const Halide::Error &e) {
      err = std::string("Halide: ") + e.what();
      ok = false;
    }
    const std::string &msg = ok ? out : err;
    for (size_t at = 0; at < msg.size();) {
      ssize_t w = write(fds[1], msg.data() + at, msg.size() - at);
      if (w <= 0)
        _exit(2);
      at += size_t(w);
    }
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    error = "cannot start a process to count the kernels' stages";
    return false;
  }
  std::string got;
  char buf[4096];
  for (ssize_t r; (r = read(fds[0], buf, sizeof buf)) > 0;)
    got.append(buf, size_t(r));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      got.size() != bytes.size() * sizeof(int64_t)) {
    error = WIFEXITED(status) && WEXITSTATUS(status) == 1 && !got.empty()
                ? got
                : "the process counting the kernels' stages failed";
    return false;
  }
  std::memcpy(bytes.data(), got.data(), got.size());
  return true;
}

} // namespace lopt::codegen
