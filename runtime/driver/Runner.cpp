//===- Runner.cpp - run a generated function on its planned arena ---------===//
#include "runtime/driver/Runner.h"

#include "runtime/EpisodeData.h"

#include <HalideRuntime.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace lopt::driver {

FunctionRunner::FunctionRunner(const lopt_module &module,
                               const lopt_function &fn)
    : module(module), fn(fn) {
  // 64-byte aligned (the planner's offsets are multiples of 64).
  size_t bytes = size_t(std::max<int64_t>(fn.arena_bytes, 64));
  block = std::malloc(bytes + 64);
  arena = reinterpret_cast<void *>(
      (reinterpret_cast<uintptr_t>(block) + 63) / 64 * 64);
  std::memset(arena, 0, bytes);
  buffers.resize(size_t(fn.num_buffers));
  dims.resize(size_t(fn.num_buffers));
  for (int s = 0; s < fn.num_buffers; ++s) {
    const lopt_buffer &b = fn.buffers[s];
    halide_buffer_t &hb = buffers[s];
    std::memset(&hb, 0, sizeof hb);
    hb.host = static_cast<uint8_t *>(arena) + b.offset;
    hb.type = b.is_int ? halide_type_t(halide_type_int, 32)
                       : halide_type_t(halide_type_float, 32);
    // Halide's dimension 0 is the innermost (last row-major) one.
    int32_t stride = 1;
    for (int d = 0; d < b.rank; ++d) {
      int32_t extent = int32_t(b.shape[b.rank - 1 - d]);
      dims[s].push_back({0, extent, stride, 0});
      stride *= extent;
    }
    hb.dimensions = b.rank;
    hb.dim = dims[s].empty() ? nullptr : dims[s].data();
  }
}

FunctionRunner::~FunctionRunner() { std::free(block); }

Shape FunctionRunner::shape(int slot) const {
  const lopt_buffer &b = fn.buffers[slot];
  return Shape(b.shape, b.shape + b.rank);
}

void *FunctionRunner::host(int slot) const { return buffers[slot].host; }

int FunctionRunner::argSlot(const std::string &name, std::string &error) const {
  for (int a = 0; a < fn.num_args; ++a)
    if (name == fn.args[a].name)
      return fn.args[a].slot;
  error = std::string(fn.name) + " has no argument '" + name + "'";
  return -1;
}

template <typename T>
static bool copyIn(FunctionRunner &r, int slot, const Tensor<T> &t,
                   bool wantInt, const std::string &name, void *dst,
                   std::string &error) {
  if (slot < 0)
    return false;
  if (t.shape != r.shape(slot) || wantInt != r.function().buffers[slot].is_int) {
    error = "argument '" + name + "' is " + shapeToString(r.shape(slot)) +
            (r.function().buffers[slot].is_int ? " int32" : " float32") +
            ", got " + shapeToString(t.shape);
    return false;
  }
  std::memcpy(dst, t.data.data(), t.data.size() * sizeof(T));
  return true;
}

bool FunctionRunner::setArg(const std::string &name, const Tensor<float> &t,
                            std::string &error) {
  int s = argSlot(name, error);
  return copyIn(*this, s, t, false, name, s < 0 ? nullptr : host(s), error);
}

bool FunctionRunner::setArg(const std::string &name, const Tensor<int32_t> &t,
                            std::string &error) {
  int s = argSlot(name, error);
  return copyIn(*this, s, t, true, name, s < 0 ? nullptr : host(s), error);
}

bool FunctionRunner::run(std::string &error) {
  for (int k = 0; k < fn.num_steps; ++k) {
    const lopt_step &step = fn.steps[k];
    argv.resize(size_t(step.num_args));
    for (int a = 0; a < step.num_args; ++a)
      argv[a] = &buffers[fn.step_args[step.first_arg + a]];
    auto start = profile ? std::chrono::steady_clock::now()
                         : std::chrono::steady_clock::time_point();
    int rc = module.kernels[step.kernel](argv.data());
    if (profile) {
      seconds[step.kernel] += std::chrono::duration<double>(
                                  std::chrono::steady_clock::now() - start)
                                  .count();
      ++calls[step.kernel];
    }
    if (rc != 0) {
      error = "kernel @k" + std::to_string(step.kernel) + " (step " +
              std::to_string(k) + " of " + fn.name + ") failed with Halide "
              "error code " + std::to_string(rc);
      return false;
    }
  }
  return true;
}

void FunctionRunner::enableProfile() {
  profile = true;
  seconds.assign(size_t(module.num_kernels), 0);
  calls.assign(size_t(module.num_kernels), 0);
}

NamedTensors FunctionRunner::results() const {
  NamedTensors out;
  for (int r = 0; r < fn.num_results; ++r) {
    int s = fn.results[r].slot;
    if (fn.buffers[s].is_int)
      continue;
    Tensor<float> t(shape(s));
    std::memcpy(t.data.data(), host(s), t.data.size() * sizeof(float));
    out[lopt::resultKey(fn.results[r].role, fn.results[r].name)] = std::move(t);
  }
  return out;
}

} // namespace lopt::driver
