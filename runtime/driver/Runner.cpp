//===- Runner.cpp - run a generated function on its planned arena ---------===//
#include "runtime/driver/Runner.h"

#include "runtime/EpisodeData.h"
#include "runtime/driver/Device.h"

#include <HalideRuntime.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace lopt::driver {

Arena::Arena(int64_t bytes) : size(std::max<int64_t>(bytes, 64)) {
  // 64-byte aligned (the planner's offsets are multiples of 256).
  block = std::malloc(size_t(size) + 64);
  if (!block) {
    std::fprintf(stderr, "out of memory: an arena of %lld bytes\n",
                 (long long)size);
    std::exit(1);
  }
  aligned = reinterpret_cast<void *>(
      (reinterpret_cast<uintptr_t>(block) + 63) / 64 * 64);
  std::memset(aligned, 0, size_t(size));
}

halide_buffer_t *Arena::device(const halide_device_interface_t *interface,
                               const char *user, std::string &error) {
  if (onDevice)
    return onDevice;
  // One device allocation of floats (Halide's extents are 32-bit)...
  if (size / 4 > INT32_MAX) {
    error = std::string(user) + " plans " + std::to_string(size) +
            " bytes; a device arena is limited to 8 GiB";
    return nullptr;
  }
  auto *b = new halide_buffer_t();
  b->dim = new halide_dimension_t{0, int32_t(size / 4), 1, 0};
  b->type = halide_type_t(halide_type_float, 32);
  b->dimensions = 1;
  // ... zeroed, as the host arena is (the zeros uploaded once).
  b->host = host();
  b->set_host_dirty(true);
  if (int rc = halide_copy_to_device(nullptr, b, interface)) {
    error = deviceError("allocating " + std::to_string(size) +
                            " bytes of device memory for " + user,
                        rc);
    delete b->dim;
    delete b;
    return nullptr;
  }
  onDevice = b;
  return onDevice;
}

Arena::~Arena() {
  if (onDevice) {
    if (onDevice->device)
      halide_device_free(nullptr, onDevice);
    delete onDevice->dim;
    delete onDevice;
  }
  std::free(block);
}

FunctionRunner::FunctionRunner(const lopt_module &module,
                               const lopt_function &fn,
                               std::shared_ptr<Arena> shared)
    : module(module), fn(fn), arena(std::move(shared)) {
  if (!arena || arena->bytes() < fn.arena_bytes)
    arena = std::make_shared<Arena>(fn.arena_bytes);
  buffers.resize(size_t(fn.num_buffers));
  dims.resize(size_t(fn.num_buffers));
  for (int s = 0; s < fn.num_buffers; ++s) {
    const lopt_buffer &b = fn.buffers[s];
    halide_buffer_t &hb = buffers[s];
    std::memset(&hb, 0, sizeof hb);
    hb.host = arena->host() + b.offset;
    hb.type = b.is_int ? halide_type_t(halide_type_int, 32)
                       : halide_type_t(halide_type_float, 32);
    // Halide's dimension 0 is the innermost (last row-major) one.
    int32_t stride = 1;
    for (int d = 0; d < b.rank; ++d) {
      int32_t extent = int32_t(b.shape[b.rank - 1 - d]);
      dims[s].push_back({0, extent, stride, 0});
      stride *= extent;
    }
    // A GPU kernel takes a scalar as a buffer of one element (the
    // lowering's deviceShape).
    if (b.rank == 0 && module.device_interface)
      dims[s].push_back({0, 1, 1, 0});
    hb.dimensions = int32_t(dims[s].size());
    hb.dim = dims[s].empty() ? nullptr : dims[s].data();
  }
  if (module.device_interface)
    setUpDevice();
  if (device && KernelGraph::usable(graphNote))
    graph = std::make_unique<KernelGraph>();
  if (!device)
    return;
  if (fn.num_streams < 2)
    streamsNote = "one: the plan has no steps to run beside others";
  else if (StepStreams::usable(streamsNote)) {
    streams = std::make_unique<StepStreams>();
    waitedFor.assign(size_t(fn.num_steps), 0);
    for (int k = 0; k < fn.num_steps; ++k)
      for (int w = 0; w < fn.steps[k].num_waits; ++w)
        waitedFor[size_t(fn.step_waits[fn.steps[k].first_wait + w])] = 1;
  }
}

void FunctionRunner::setUpDevice() {
  if (!checkDevice(setupError))
    return;
  device = module.device_interface();
  deviceArena = arena->device(device, fn.name, setupError);
  if (!deviceArena)
    return;
  // Every slot a crop of the device arena at the slot's offset (a 1-D crop
  // of its size; the device handle does not depend on the slot's shape).
  for (int s = 0; s < fn.num_buffers; ++s) {
    halide_dimension_t cropDim = {int32_t(fn.buffers[s].offset / 4),
                                  int32_t(numElements(shape(s))), 1, 0};
    halide_buffer_t crop;
    std::memset(&crop, 0, sizeof crop);
    crop.type = deviceArena->type;
    crop.dimensions = 1;
    crop.dim = &cropDim;
    if (int rc = halide_device_crop(nullptr, deviceArena, &crop)) {
      setupError = deviceError("placing slot " + std::to_string(s) + " of " +
                                   fn.name + " in device memory",
                               rc);
      return;
    }
    buffers[s].device = crop.device;
    buffers[s].device_interface = crop.device_interface;
  }
}

FunctionRunner::~FunctionRunner() {
  graph.reset(); // (its launches use the arena)
  streams.reset();
  for (halide_buffer_t &b : buffers)
    if (b.device)
      halide_device_release_crop(nullptr, &b);
}

bool FunctionRunner::upload(int slot, std::string &error) {
  if (!device)
    return true;
  halide_buffer_t &b = buffers[slot];
  b.flags = 0;
  b.set_host_dirty(true);
  if (int rc = halide_copy_to_device(nullptr, &b, device)) {
    error = deviceError("copying an argument of " + std::string(fn.name) +
                            " to the device",
                        rc);
    return false;
  }
  return true;
}

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

bool FunctionRunner::ready(std::string &error) const {
  if (setupError.empty())
    return true;
  error = setupError;
  return false;
}

template <typename T>
bool FunctionRunner::bind(const std::string &name, const Tensor<T> &t,
                          std::string &error) {
  if (!ready(error))
    return false;
  int s = argSlot(name, error);
  return copyIn(*this, s, t, std::is_same_v<T, int32_t>, name,
                s < 0 ? nullptr : host(s), error) &&
         upload(s, error);
}

bool FunctionRunner::setArg(const std::string &name, const Tensor<float> &t,
                            std::string &error) {
  return bind(name, t, error);
}

bool FunctionRunner::setArg(const std::string &name, const Tensor<int32_t> &t,
                            std::string &error) {
  return bind(name, t, error);
}

bool FunctionRunner::run(std::string &error) {
  if (!ready(error))
    return false;
  ++runs;
  lastRun = LastRun::Called;
  if (graph && !profile) {
    if (graph->ready()) {
      lastRun = LastRun::Replayed;
      return graph->launch(error) && finish(error);
    }
    // The first run loads the kernels and fills the driver's cache of
    // device allocations; the second is recorded, then launched.
    if (runs == 2) {
      std::string why, failed;
      if (graph->begin(why)) {
        if (!runSteps(failed) && failed.empty())
          failed = "no message";
        if (graph->end(failed, why)) {
          lastRun = LastRun::Recorded;
          return graph->launch(error) && finish(error);
        }
      }
      takeHalideError();
      graphNote = why;
      graph.reset();
    }
  }
  return runSteps(error) && finish(error);
}

std::string FunctionRunner::graphStatus() const {
  if (!graph)
    return graphNote;
  if (!graph->ready())
    return "not recorded yet (the second run records)";
  std::string n = std::to_string(graph->launches()) + " launches";
  switch (lastRun) {
  case LastRun::Replayed:
    return "replayed: " + n;
  case LastRun::Recorded:
    return "recorded: " + n;
  default:
    return "recorded (" + n + "), but the last run called the kernels one "
           "by one (--profile)";
  }
}

std::string FunctionRunner::streamsStatus() const {
  if (!streams)
    return streamsNote;
  return std::to_string(fn.num_streams) + " streams (LOPT_CUDA_STREAMS=1" +
         std::string(runs < 2 || profile ? "; the first run, and profiled "
                                           "runs, use one)"
                                         : ")");
}

bool FunctionRunner::runSteps(std::string &error) {
  // The first run (which loads the kernels) and profiled runs call the
  // steps in order on one stream.
  bool several = streams && runs >= 2 && !profile;
  // (The streams and events are made by the first run, never while a
  // graph is recorded.)
  if (streams && runs == 1 &&
      !streams->make(fn.num_streams, fn.num_steps, streamsNote)) {
    streams.reset();
    streamsNote = "off: " + streamsNote;
  }
  if (several && !streams->fork(error))
    return false;
  if (!callSteps(several, error)) {
    std::string ignored;
    if (several)
      streams->join(ignored);
    return false;
  }
  return !several || streams->join(error);
}

bool FunctionRunner::callSteps(bool several, std::string &error) {
  for (int k = 0; k < fn.num_steps; ++k) {
    const lopt_step &step = fn.steps[k];
    argv.resize(size_t(step.num_args));
    for (int a = 0; a < step.num_args; ++a) {
      halide_buffer_t &b = buffers[fn.step_args[step.first_arg + a]];
      // The device holds every slot's value (a view's too, whose own flags
      // no kernel updated): no kernel copies anything to the device.
      if (device) {
        b.flags = 0;
        b.set_device_dirty(true);
      }
      argv[a] = &b;
    }
    auto start = profile ? std::chrono::steady_clock::now()
                         : std::chrono::steady_clock::time_point();
    if (several && !streams->before(k, step.stream,
                                     fn.step_waits + step.first_wait,
                                     step.num_waits, error))
      return false;
    int rc;
    {
      // offset, bytes; and the bytes of stages planned, all that a step
      // running beside others may use
      const int64_t *range = fn.step_scratch + 3 * k;
      StageScratch stages(device ? deviceArena->device + uint64_t(range[0]) : 0,
                          several ? std::min(range[1], range[2]) : range[1]);
      rc = module.kernels[step.kernel](argv.data());
    }
    if (rc == 0 && several && waitedFor[size_t(k)] &&
        !streams->after(k, error))
      return false;
    if (profile && device && rc == 0)
      rc = halide_device_sync(nullptr, &buffers[fn.step_args[step.first_arg]]);
    if (profile) {
      seconds[step.kernel] += std::chrono::duration<double>(
                                  std::chrono::steady_clock::now() - start)
                                  .count();
      ++calls[step.kernel];
    }
    if (rc != 0) {
      std::string said = takeHalideError();
      error = "kernel @k" + std::to_string(step.kernel) + " (step " +
              std::to_string(k) + " of " + fn.name + ") failed with Halide "
              "error code " + std::to_string(rc) +
              (said.empty() ? "" : ": " + said);
      return false;
    }
  }
  return true;
}

bool FunctionRunner::finish(std::string &error) {
  // Kernels on a device run asynchronously: the episode ends when they do.
  if (device && fn.num_buffers > 0)
    if (int rc = halide_device_sync(nullptr, &buffers[0])) {
      error = deviceError("running " + std::string(fn.name), rc);
      return false;
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
    if (device) {
      halide_buffer_t &b = const_cast<halide_buffer_t &>(buffers[s]);
      b.flags = 0;
      b.set_device_dirty(true);
      if (int rc = halide_copy_to_host(nullptr, &b)) {
        std::fprintf(stderr, "%s\n",
                     deviceError("copying a result of " +
                                     std::string(fn.name) + " to the host",
                                 rc)
                         .c_str());
        std::exit(1);
      }
    }
    Tensor<float> t(shape(s));
    std::memcpy(t.data.data(), host(s), t.data.size() * sizeof(float));
    out[lopt::resultKey(fn.results[r].role, fn.results[r].name)] = std::move(t);
  }
  return out;
}

} // namespace lopt::driver
