//===- Device.h - the GPU a binary's kernels may run on ---------*- C++ -*-===//
//
// Binaries built for a GPU target (lopt_module::device_api "cuda" or
// "opencl") keep every buffer on that device. This says whether the device
// can be used here, and turns Halide runtime errors (which the runtime
// otherwise prints and forgets) into messages for people.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_DEVICE_H
#define LOPT_RUNTIME_DRIVER_DEVICE_H

#include <cstdint>
#include <string>
#include <vector>

namespace lopt::driver {

/// Routes Halide runtime errors into a buffer read by takeHalideError
/// (instead of stderr). Call once, first thing.
void captureHalideErrors();
/// The Halide runtime's messages since the last call ("" when none).
std::string takeHalideError();

/// Whether the kernels run on a device rather than the CPU.
bool usesDevice();
/// During one kernel call of a CUDA binary, the stages the kernel stores
/// on the device go, in order and where they fit, into `bytes` of the
/// arena at device address `device` (the arena's plus the offset of the
/// plan's step_scratch: bytes no buffer alive at the step occupies, planned
/// to hold all the kernel's stages) instead of allocations of their own,
/// which the driver would keep for reuse beside the arena (still the way
/// for a stage that does not fit). Nothing for other binaries: a CPU kernel's heap
/// stages placed there saved nothing (the heap peaks at the step where the
/// arena has no room) and fragmented the heap. LOPT_STAGE_SCRATCH=0 turns
/// this off.
class StageScratch {
public:
  StageScratch(uint64_t device, int64_t bytes);
  ~StageScratch();
  StageScratch(const StageScratch &) = delete;
  StageScratch &operator=(const StageScratch &) = delete;
};
/// One function's kernel calls recorded once as a CUDA graph and replayed
/// by one launch from then on (CUDA binaries): a meta-iteration is about
/// 1,200 kernel launches, each otherwise a Halide pipeline call on the host
/// (its checks, its stages' allocations) and a cuLaunchKernel. Every
/// argument of a step is a slot of the arena and every stage a kernel
/// stores comes from the step's scratch range or from the driver's cache,
/// where the allocations handed out while recording are never returned to
/// the driver: the recorded launches stay valid for every later run. The
/// kernels run on a stream of the binary's own (the legacy default stream
/// cannot be recorded). LOPT_CUDA_GRAPH=0 turns this off (every run calls
/// the kernels, on the default stream, as before), as does
/// LOPT_DEVICE_CACHE=0 (it frees allocations a graph may hold).
class KernelGraph {
public:
  KernelGraph() = default;
  ~KernelGraph();
  KernelGraph(const KernelGraph &) = delete;
  KernelGraph &operator=(const KernelGraph &) = delete;
  /// Whether graphs are used in this process; if not, `why` ("" for a
  /// binary that does not run on CUDA).
  static bool usable(std::string &why);
  /// Starts recording the kernels launched from now on, instead of running
  /// them; false with `why` when recording cannot start.
  bool begin(std::string &why);
  /// Stops recording. `failed`: why a kernel call in between failed ("":
  /// none did). True when the graph is ready to launch; otherwise `why`,
  /// and nothing is kept.
  bool end(const std::string &failed, std::string &why);
  bool ready() const { return exec != nullptr; }
  /// The recorded kernel launches (the graph's nodes).
  size_t launches() const { return nodes; }
  /// Runs the recorded launches (asynchronously, as the kernels are).
  bool launch(std::string &error);

private:
  void *graph = nullptr, *exec = nullptr;
  size_t nodes = 0;
  std::vector<uint64_t> holds; // the driver's allocations it uses
};
/// A CUDA binary's steps on several streams, as the compiler planned them
/// (codegen/StreamPlan.h: a step waits only for the earlier steps that
/// touch its bytes, so a weight gradient runs beside the rest of the
/// backward pass). A run forks the streams from the binary's own stream,
/// each step's kernels go to its stream after the steps it waits for, and
/// the run joins them back; a CUDA graph records that as its edges. Stages
/// freed during such a run are kept for reuse only once it has joined (a
/// step on another stream may still be using them). Off unless
/// LOPT_CUDA_STREAMS=1 (not yet measured on a GPU), and only with graphs
/// (their stream is the one forked).
class StepStreams {
public:
  StepStreams() = default;
  ~StepStreams();
  StepStreams(const StepStreams &) = delete;
  StepStreams &operator=(const StepStreams &) = delete;
  /// Whether steps run on several streams in this process; if not, `why`
  /// ("" for a binary that does not run on CUDA).
  static bool usable(std::string &why);
  /// Makes `streams` streams and the events of `steps` steps, outside any
  /// recording (the first run, which calls its steps in order).
  bool make(int streams, int steps, std::string &error);
  /// Before a run's first step: the streams start after the work on the
  /// binary's stream.
  bool fork(std::string &error);
  /// Before step `k`'s kernel call: its kernels go to `stream`, after the
  /// steps `waits` (on other streams; each marked by `after`).
  bool before(int k, int stream, const int32_t *waits, int numWaits,
              std::string &error);
  /// After step `k`'s kernel call: marks where it ends on its stream.
  bool after(int k, std::string &error);
  /// After the last step (or a failed one): the binary's stream waits for
  /// every stream, and kernels go to it again.
  bool join(std::string &error);

private:
  std::vector<void *> streams; // [0]: the binary's stream
  std::vector<void *> events;  // per step; and per stream, for fork and join
  std::vector<void *> ends;
  int current = 0, used = 0;
};
/// The most bytes of stages one kernel call placed in the arena, in MiB
/// (0 but in a CUDA binary).
double stageScratchPeakMb();
/// How many stages kernel calls of a CUDA binary stored beside the arena,
/// their step's range being too small (the memory plan makes it large
/// enough: 0 unless LOPT_STAGE_SCRATCH=0); -1 for other binaries.
int64_t stagesBesideArena();
/// A CUDA binary's most device memory held at once by its own allocations
/// (the arena and the stages kernels store, the freed ones kept for reuse
/// included; not the CUDA context), in MiB; -1 for other binaries.
double deviceAllocationPeakMb();
/// "the CPU" or "CUDA (an NVIDIA GPU)" ...: where the kernels run.
std::string deviceDescription();
/// For a GPU binary: makes sure the device can be used (allocates and
/// frees a little memory on it) and keeps device allocations for reuse
/// across kernel calls; false with a message saying what is missing.
/// True at once for a CPU binary.
bool checkDevice(std::string &error);
/// A message for a failed device operation `what` (Halide code `rc`) once
/// the device is set up, with what the runtime said.
std::string deviceError(const std::string &what, int rc);

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_DEVICE_H
