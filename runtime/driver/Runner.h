//===- Runner.h - run a generated function on its planned arena -*- C++ -*-===//
//
// A FunctionRunner has an arena of the size the memory planner chose (its
// own, or one shared with functions that never run at the same time) and
// a halide_buffer_t for every slot of the function; running it calls the
// kernels step by step. Arguments are copied in by name, results read out
// by name. No Halide library is involved: only the kernels' C entry points
// and Halide's runtime compiled into the binary.
//
// For a GPU target the arena is one device allocation and every slot a
// device crop of it (a view inside its storage, as on the host):
// buffers stay on the device from call to call; setArg uploads its
// argument, results() downloads the results; inside run() nothing crosses
// to the host. The host arena is only the staging area of those copies.
// On CUDA the second run records its kernel launches as a graph
// (KernelGraph) and every later run replays it.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_RUNNER_H
#define LOPT_RUNTIME_DRIVER_RUNNER_H

#include "runtime/Tensor.h"
#include "runtime/driver/ProgramABI.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

struct halide_buffer_t;
struct halide_dimension_t;
struct halide_device_interface_t;

namespace lopt::driver {

class KernelGraph;
class StepStreams;

using NamedTensors = std::map<std::string, Tensor<float>>;

/// The memory the slots of a function live in: a zeroed host block and,
/// for a GPU binary, one device allocation of the same size (made at the
/// first request). Runners of functions that never run at once, and bind
/// every argument before each run, can share one (see sharedArena in
/// Module.h): each run writes every slot before reading it.
class Arena {
public:
  explicit Arena(int64_t bytes);
  ~Arena();
  Arena(const Arena &) = delete;
  Arena &operator=(const Arena &) = delete;
  int64_t bytes() const { return size; }
  uint8_t *host() const { return static_cast<uint8_t *>(aligned); }
  /// The device allocation, made (and zeroed) at the first call; null
  /// with `error` when it cannot be made (`user`: the function asking).
  halide_buffer_t *device(const halide_device_interface_t *interface,
                          const char *user, std::string &error);

private:
  int64_t size;
  void *block = nullptr, *aligned = nullptr; // malloc'd, and 64-aligned in it
  halide_buffer_t *onDevice = nullptr;
};

class FunctionRunner {
public:
  /// `arena`: one of at least fn.arena_bytes to share (null: its own).
  FunctionRunner(const lopt_module &module, const lopt_function &fn,
                 std::shared_ptr<Arena> arena = nullptr);
  ~FunctionRunner();
  FunctionRunner(const FunctionRunner &) = delete;
  FunctionRunner &operator=(const FunctionRunner &) = delete;

  const lopt_function &function() const { return fn; }
  Shape shape(int slot) const;

  /// Copies a float (or, for label slots, int) tensor into argument `name`;
  /// false with `error` when there is no such argument or shapes differ.
  bool setArg(const std::string &name, const Tensor<float> &t,
              std::string &error);
  bool setArg(const std::string &name, const Tensor<int32_t> &t,
              std::string &error);
  /// Runs every step; false with `error` naming the failing step.
  bool run(std::string &error);
  /// Results by name: "meta_loss", ..., "grad/<argument>". (From a GPU:
  /// a failing download ends the process with a message.)
  NamedTensors results() const;

  /// For a CUDA binary, whether the last run replayed a graph of the
  /// kernel launches ("replayed: N launches"), recorded it, or why not;
  /// "" for other binaries.
  std::string graphStatus() const;
  /// For a CUDA binary, whether its steps run on several streams ("N
  /// streams") or why not; "" for other binaries.
  std::string streamsStatus() const;

  /// Time every kernel call from now on (seconds and calls per kernel);
  /// a profiled run calls the kernels one by one.
  void enableProfile();
  const std::vector<double> &kernelSeconds() const { return seconds; }
  const std::vector<int64_t> &kernelCalls() const { return calls; }

private:
  const lopt_module &module;
  const lopt_function &fn;
  std::shared_ptr<Arena> arena;
  std::vector<halide_buffer_t> buffers;
  std::vector<std::vector<halide_dimension_t>> dims;
  std::vector<void *> argv;
  const halide_device_interface_t *device = nullptr; // null: the CPU
  halide_buffer_t *deviceArena = nullptr; // arena->device(), or null
  std::string setupError; // why the device arena could not be made
  std::unique_ptr<KernelGraph> graph; // CUDA: the runs' kernel launches
  std::string graphNote;              // why there is no graph
  std::unique_ptr<StepStreams> streams; // CUDA: the steps on several streams
  std::string streamsNote;              // why not
  std::vector<char> waitedFor;          // per step: a later step waits for it
  int64_t runs = 0;
  enum class LastRun { Called, Recorded, Replayed } lastRun = LastRun::Called;
  bool profile = false;
  std::vector<double> seconds;
  std::vector<int64_t> calls;
  int argSlot(const std::string &name, std::string &error) const;
  void *host(int slot) const;
  void setUpDevice();
  /// False with `error` when the device could not be set up.
  bool ready(std::string &error) const;
  /// setArg's body: copies `t` into argument `name` (and to the device).
  template <typename T>
  bool bind(const std::string &name, const Tensor<T> &t, std::string &error);
  bool upload(int slot, std::string &error);
  /// Calls every step's kernel (on several streams where planned, from
  /// the second run on).
  bool runSteps(std::string &error);
  bool callSteps(bool several, std::string &error);
  /// Waits for the device's kernels to finish.
  bool finish(std::string &error);
};

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_RUNNER_H
