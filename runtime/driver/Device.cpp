//===- Device.cpp - the GPU a binary's kernels may run on -----------------===//
#include "runtime/driver/Device.h"

#include "runtime/driver/ProgramABI.h"

#include <HalideRuntime.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace {
/// The CUDA driver library (nullptr where there is none).
void *libcuda() {
  static void *lib = [] {
    for (const char *soname : {"libcuda.so.1", "libcuda.so"})
      if (void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL))
        return h;
    return static_cast<void *>(nullptr);
  }();
  return lib;
}
template <typename F> F cudaFunction(const char *name) {
  void *lib = libcuda();
  return reinterpret_cast<F>(lib ? dlsym(lib, name) : nullptr);
}
} // namespace

// Halide 14's CUDA runtime finds the driver by dlopen("libcuda.so"), the
// unversioned name that only a CUDA toolkit's development files install;
// a machine with the driver alone (most containers and GPU servers) has
// libcuda.so.1. This strong definition replaces the runtime's weak one
// (a CPU or OpenCL binary never calls it).
extern "C" void *halide_cuda_get_symbol(void *, const char *name) {
  return cudaFunction<void *>(name);
}

// Device memory of CUDA binaries, replacing the Halide runtime's weak
// halide_cuda_device_malloc and halide_cuda_device_free. Halide 14 keeps at
// most 32 freed allocations for reuse and returns older ones with cuMemFree
// (which waits for the device); the stages a Mini-ImageNet meta-iteration's
// kernels store are hundreds of allocations of dozens of sizes, so many
// were a cuMemFree and a cuMemAlloc. Here every freed allocation is kept for the
// next request that it fits, best fit, at most twice the size asked for
// (all work on one stream, so a kernel never sees memory that an earlier
// one still uses; only a kernel call's stages are served from the kept
// ones: a CUDA graph may hold them); they go back to the driver only when an
// allocation fails, or with the context (LOPT_DEVICE_CACHE=0 in the
// environment: at once, as cuMemFree). Keeping them took a 5w5s
// meta-iteration from 39.5 ms (freeing each at once) to 14.8 on an H200
// (bench/results/gpu-2026-11-27-h200-blocks/). Kept by exact size, they
// came to 114 MB there (48 sizes), where the most that any one kernel
// holds at once is 33 MiB.
//
// The Halide runtime's context functions, weak: only a CUDA binary has them.
extern "C" __attribute__((weak)) int halide_cuda_acquire_context(void *, void **, bool);
extern "C" __attribute__((weak)) int halide_cuda_release_context(void *);
extern "C" __attribute__((weak)) const halide_device_interface_t *
halide_cuda_device_interface();

namespace {
using CUdeviceptr = unsigned long long;
std::mutex poolLock;
/// The kept allocations, by size; and the size of every allocation made
/// here (a kept one may serve a smaller request).
std::multimap<size_t, CUdeviceptr> kept;
std::unordered_map<CUdeviceptr, size_t> allocated;
/// Bytes allocated here and not returned to the driver (in use or kept),
/// and the most at once.
size_t held = 0, heldPeak = 0;
/// Whether kernel launches are being recorded into a CUDA graph
/// (KernelGraph), and the allocations handed out while they are; the
/// allocations CUDA graphs hold (with how many graphs hold each), which are
/// never returned to the driver.
bool recording = false;
std::unordered_set<CUdeviceptr> recorded;
std::unordered_map<CUdeviceptr, int> pinned;
/// Whether a kernel call is in progress (StageScratch): only its stages
/// are served from the kept allocations, which a graph may hold.
bool inKernelCall = false;
/// During a run on several streams (StepStreams), the current step's
/// stream; and the stages freed in that run, kept for reuse once it joins.
void *stepStream = nullptr;
bool onSteps = false;
std::vector<std::pair<size_t, CUdeviceptr>> freedOnSteps;

/// The arena's free range during the current kernel call (StageScratch),
/// handed out in order to the stages the kernel stores on the device, and
/// what was handed out in that call: their frees return nothing (the last
/// one handed out, its bytes to the range). One kernel call at a time:
/// the runner calls kernels from one thread.
struct Scratch {
  CUdeviceptr device = 0;
  size_t bytes = 0, used = 0;
  size_t peak = 0; // the most one kernel call took
};
Scratch scratch;
std::unordered_map<CUdeviceptr, size_t> fromScratch;
/// Stages a kernel call stored beside the arena, for want of room in its
/// step's range (the memory plan leaves room for all: so 0).
int64_t stagesBeside = 0;
constexpr size_t kScratchAlign = 256;

/// `size` bytes of the current range, aligned, into `ptr`; false where
/// they do not fit. (Under poolLock.)
bool takeScratch(size_t size, CUdeviceptr &ptr) {
  size_t at = (scratch.used + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
  if (!scratch.device || size == 0 || at + size > scratch.bytes)
    return false;
  ptr = scratch.device + at;
  scratch.used = at + size;
  scratch.peak = std::max(scratch.peak, scratch.used);
  fromScratch[ptr] = size;
  return true;
}

/// Whether the environment variable `name` leaves a behaviour on: unless
/// it is "0".
bool switchedOn(const char *name) {
  const char *v = std::getenv(name);
  return !v || std::strcmp(v, "0") != 0;
}

/// LOPT_STAGE_SCRATCH=0: every stage in an allocation of its own (to
/// measure what placing them in the arena saves, or to rule it out).
bool scratchEnabled() {
  static const bool on = switchedOn("LOPT_STAGE_SCRATCH");
  return on;
}

constexpr int kOutOfMemory = 2; // CUDA_ERROR_OUT_OF_MEMORY

/// Runs `work` (CUDA calls, returning a CUDA error) with the binary's
/// context current; its error, or -1 where the driver lacks the context
/// functions. `noContext`: there is no context (the Halide runtime has
/// said why).
template <typename Work>
int inContext(void *uc, bool &noContext, const Work &work) {
  static auto push = cudaFunction<int (*)(void *)>("cuCtxPushCurrent_v2");
  static auto pop = cudaFunction<int (*)(void **)>("cuCtxPopCurrent_v2");
  void *ctx = nullptr;
  noContext = !halide_cuda_acquire_context ||
              halide_cuda_acquire_context(uc, &ctx, true) != 0;
  if (noContext)
    return -1;
  int err = push && pop ? push(ctx) : -1;
  if (err == 0) {
    err = work();
    void *old = nullptr;
    pop(&old);
  }
  halide_cuda_release_context(uc);
  return err;
}

/// cuMemAlloc of `size` bytes into `ptr`.
int allocate(void *uc, CUdeviceptr &ptr, size_t size, bool &noContext) {
  static auto alloc = cudaFunction<int (*)(CUdeviceptr *, size_t)>("cuMemAlloc_v2");
  return inContext(uc, noContext, [&] { return alloc ? alloc(&ptr, size) : -1; });
}

/// cuMemFree of every kept allocation that no graph holds.
int releaseKept(void *uc, bool &noContext) {
  static auto release = cudaFunction<int (*)(CUdeviceptr)>("cuMemFree_v2");
  return inContext(uc, noContext, [&] {
    if (!release)
      return -1;
    std::lock_guard<std::mutex> lock(poolLock);
    for (auto k = kept.begin(); k != kept.end();) {
      if (pinned.count(k->second) || release(k->second) != 0) {
        ++k;
        continue;
      }
      allocated.erase(k->second);
      held -= k->first;
      k = kept.erase(k);
    }
    return 0;
  });
}
} // namespace

extern "C" int halide_cuda_device_malloc(void *uc, halide_buffer_t *buf) {
  if (buf->device)
    return halide_error_code_success;
  size_t size = buf->size_in_bytes();
  CUdeviceptr ptr = 0;
  {
    std::lock_guard<std::mutex> lock(poolLock);
    if (takeScratch(size, ptr)) {
      buf->device = ptr;
      buf->device_interface = halide_cuda_device_interface();
      return halide_error_code_success;
    }
    if (inKernelCall && scratchEnabled())
      ++stagesBeside;
    auto fit = kept.lower_bound(size);
    if (inKernelCall && fit != kept.end() && fit->first / 2 <= size) {
      ptr = fit->second;
      kept.erase(fit);
      if (recording)
        recorded.insert(ptr);
    }
  }
  if (!ptr) {
    bool noContext = false;
    int err = allocate(uc, ptr, size, noContext);
    // (Not while recording: cuMemFree waits for the device, which a
    // stream being recorded does not allow. The recording fails instead,
    // and the run calls its kernels one by one.)
    bool mayRelease;
    {
      std::lock_guard<std::mutex> lock(poolLock);
      mayRelease = !recording;
    }
    if (err == kOutOfMemory && mayRelease && releaseKept(uc, noContext) == 0)
      err = allocate(uc, ptr, size, noContext);
    if (noContext)
      return halide_error_code_device_malloc_failed;
    if (err) {
      std::string msg = "CUDA: cuMemAlloc of " + std::to_string(size) +
                        " bytes failed (CUDA error " + std::to_string(err) + ")";
      halide_error(uc, msg.c_str());
      return halide_error_code_device_malloc_failed;
    }
    std::lock_guard<std::mutex> lock(poolLock);
    allocated[ptr] = size;
    held += size;
    heldPeak = std::max(heldPeak, held);
    if (recording)
      recorded.insert(ptr);
  }
  buf->device = ptr;
  buf->device_interface = halide_cuda_device_interface();
  return halide_error_code_success;
}

extern "C" int halide_cuda_device_free(void *uc, halide_buffer_t *buf) {
  if (!buf->device)
    return halide_error_code_success;
  {
    std::lock_guard<std::mutex> lock(poolLock);
    auto fromRange = fromScratch.find(buf->device);
    auto made = allocated.find(buf->device);
    if (fromRange != fromScratch.end() || made == allocated.end()) {
      // In the arena (a stage placed there, or, freed after its call, one
      // that was): nothing to keep. The last one placed gives its bytes
      // back to the range.
      if (fromRange != fromScratch.end()) {
        if (buf->device + fromRange->second == scratch.device + scratch.used)
          scratch.used = size_t(buf->device - scratch.device);
        fromScratch.erase(fromRange);
      }
      buf->device = 0;
      buf->device_interface = nullptr;
      return halide_error_code_success;
    }
    // (During a run on several streams, a later step on another stream
    // could be handed what a step still running uses.)
    if (onSteps)
      freedOnSteps.push_back({made->second, buf->device});
    else
      kept.emplace(made->second, buf->device);
  }
  // LOPT_DEVICE_CACHE=0: every free a cuMemFree (to measure what the cache
  // saves, or to rule it out).
  static const bool keep = switchedOn("LOPT_DEVICE_CACHE");
  bool noContext = false;
  if (!keep)
    releaseKept(uc, noContext);
  buf->device = 0;
  buf->device_interface = nullptr;
  return halide_error_code_success;
}

namespace lopt::driver {

namespace {
std::mutex errorLock;
std::vector<std::string> errors;

extern "C" void collectHalideError(void *, const char *msg) {
  std::lock_guard<std::mutex> lock(errorLock);
  std::string m = msg ? msg : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
    m.pop_back();
  if (!m.empty())
    errors.push_back(m);
}
} // namespace

void captureHalideErrors() { halide_set_error_handler(collectHalideError); }

std::string takeHalideError() {
  std::lock_guard<std::mutex> lock(errorLock);
  std::string e;
  // The first message says what failed first, the last what it meant (a
  // missing driver is one message per missing function, then a summary).
  if (!errors.empty())
    e = errors.front();
  if (errors.size() > 2)
    e += "; ... " + std::to_string(errors.size() - 2) + " more ...";
  if (errors.size() > 1)
    e += "; " + errors.back();
  errors.clear();
  return e;
}

bool usesDevice() { return lopt_program.device_interface != nullptr; }

namespace {
/// Whether the kernels run on CUDA (the allocations and limits set here
/// are CUDA's).
bool usesCuda() {
  return usesDevice() && std::strcmp(lopt_program.device_api, "cuda") == 0;
}
} // namespace

namespace {
/// Whether kernels are recorded into graphs (KernelGraph): a CUDA binary,
/// neither LOPT_CUDA_GRAPH=0 nor LOPT_DEVICE_CACHE=0; else why not.
bool graphsWanted(std::string &why) {
  if (!usesCuda())
    return false;
  if (!switchedOn("LOPT_CUDA_GRAPH"))
    why = "off (LOPT_CUDA_GRAPH=0)";
  else if (!switchedOn("LOPT_DEVICE_CACHE"))
    why = "off (LOPT_DEVICE_CACHE=0 frees allocations a graph would hold)";
  return why.empty();
}

/// The stream every kernel and copy of the binary goes to, created in the
/// context at the first request (null: the legacy default stream).
void *theStream = nullptr;

/// The CUDA driver's graph functions (any null: no graphs).
struct GraphApi {
  int (*create)(void **, unsigned) = cudaFunction<int (*)(void **, unsigned)>(
      "cuStreamCreate");
  int (*begin)(void *, int) =
      cudaFunction<int (*)(void *, int)>("cuStreamBeginCapture_v2");
  int (*end)(void *, void **) =
      cudaFunction<int (*)(void *, void **)>("cuStreamEndCapture");
  int (*instantiate)(void **, void *, unsigned long long) =
      cudaFunction<int (*)(void **, void *, unsigned long long)>(
          "cuGraphInstantiateWithFlags");
  int (*nodes)(void *, void **, size_t *) =
      cudaFunction<int (*)(void *, void **, size_t *)>("cuGraphGetNodes");
  int (*launch)(void *, void *) =
      cudaFunction<int (*)(void *, void *)>("cuGraphLaunch");
  int (*destroyExec)(void *) = cudaFunction<int (*)(void *)>("cuGraphExecDestroy");
  int (*destroy)(void *) = cudaFunction<int (*)(void *)>("cuGraphDestroy");
  bool complete() const {
    return create && begin && end && instantiate && nodes && launch &&
           destroyExec && destroy;
  }
};
const GraphApi &graphApi() {
  static const GraphApi api;
  return api;
}

/// "what failed (CUDA error N)".
std::string cudaFailure(const char *what, int err) {
  return std::string(what) + " failed (CUDA error " + std::to_string(err) + ")";
}
} // namespace

// The Halide runtime's choice of stream for kernels and copies, replacing
// its weak definition (which returns the legacy default stream, 0). Called
// with the context current. One stream, synchronising with the legacy one
// (flags 0): the order of all device work stays what it was.
extern "C" int halide_cuda_get_stream(void *, void *, void **stream) {
  static std::once_flag once;
  std::call_once(once, [] {
    std::string why;
    if (graphsWanted(why) && graphApi().complete() &&
        graphApi().create(&theStream, 0) != 0)
      theStream = nullptr;
  });
  *stream = onSteps && stepStream ? stepStream : theStream;
  return 0;
}

bool KernelGraph::usable(std::string &why) {
  if (!graphsWanted(why))
    return false;
  if (!graphApi().complete()) {
    why = "not used: the CUDA driver lacks the graph functions (CUDA 11.4 "
          "or newer has them)";
    return false;
  }
  return true;
}

bool KernelGraph::begin(std::string &why) {
  if (!theStream) {
    why = "not used: no stream of the binary's own to record (cuStreamCreate "
          "failed)";
    return false;
  }
  constexpr int kRelaxed = 2; // CU_STREAM_CAPTURE_MODE_RELAXED: cuMemAlloc allowed
  bool noContext = false;
  int err = inContext(nullptr, noContext,
                      [&] { return graphApi().begin(theStream, kRelaxed); });
  if (err) {
    why = "not used: " + cudaFailure("cuStreamBeginCapture", err);
    return false;
  }
  std::lock_guard<std::mutex> lock(poolLock);
  recording = true;
  return true;
}

bool KernelGraph::end(const std::string &failed, std::string &why) {
  std::unordered_set<CUdeviceptr> used;
  {
    std::lock_guard<std::mutex> lock(poolLock);
    recording = false;
    used.swap(recorded);
  }
  const GraphApi &api = graphApi();
  void *g = nullptr, *made = nullptr;
  bool noContext = false;
  int ended =
      inContext(nullptr, noContext, [&] { return api.end(theStream, &g); });
  int err = -1;
  if (ended == 0 && g && failed.empty())
    err = inContext(nullptr, noContext, [&] {
      int e = api.instantiate(&made, g, 0);
      return e == 0 ? api.nodes(g, nullptr, &nodes) : e;
    });
  if (err == 0) {
    graph = g;
    exec = made;
    std::lock_guard<std::mutex> lock(poolLock);
    for (CUdeviceptr p : used) {
      ++pinned[p];
      holds.push_back(p);
    }
    return true;
  }
  // (A capture that went wrong says so at its end: CUDA errors 900 to 908.)
  why = "not used: ";
  if (!failed.empty())
    why += "a kernel call failed while its launches were recorded (" +
           failed + ")";
  else if (ended != 0 || !g)
    why += cudaFailure("recording the launches (cuStreamEndCapture)", ended);
  else
    why += cudaFailure("instantiating the graph (cuGraphInstantiate)", err);
  if (!failed.empty() && ended != 0)
    why += "; " + cudaFailure("cuStreamEndCapture", ended);
  inContext(nullptr, noContext, [&] {
    if (made)
      api.destroyExec(made);
    if (g)
      api.destroy(g);
    return 0;
  });
  nodes = 0;
  return false;
}

bool KernelGraph::launch(std::string &error) {
  bool noContext = false;
  int err = inContext(nullptr, noContext,
                      [&] { return graphApi().launch(exec, theStream); });
  if (err)
    error = cudaFailure("launching the recorded kernels (cuGraphLaunch)", err) +
            "; LOPT_CUDA_GRAPH=0 calls them one by one";
  return err == 0;
}

namespace {
/// The CUDA driver's stream and event functions (any null: no streams).
struct StreamApi {
  int (*create)(void **, unsigned) = cudaFunction<int (*)(void **, unsigned)>(
      "cuStreamCreate");
  int (*destroy)(void *) = cudaFunction<int (*)(void *)>("cuStreamDestroy_v2");
  int (*event)(void **, unsigned) =
      cudaFunction<int (*)(void **, unsigned)>("cuEventCreate");
  int (*destroyEvent)(void *) =
      cudaFunction<int (*)(void *)>("cuEventDestroy_v2");
  int (*record)(void *, void *) =
      cudaFunction<int (*)(void *, void *)>("cuEventRecord");
  int (*wait)(void *, void *, unsigned) =
      cudaFunction<int (*)(void *, void *, unsigned)>("cuStreamWaitEvent");
  bool complete() const {
    return create && destroy && event && destroyEvent && record && wait;
  }
};
const StreamApi &streamApi() {
  static const StreamApi api;
  return api;
}
constexpr unsigned kNonBlocking = 1;   // CU_STREAM_NON_BLOCKING
constexpr unsigned kDisableTiming = 2; // CU_EVENT_DISABLE_TIMING

/// Runs `work` (CUDA calls) in the binary's context; false with `error`
/// saying `what` failed.
template <typename Work>
bool cudaStep(const char *what, std::string &error, const Work &work) {
  bool noContext = false;
  int err = inContext(nullptr, noContext, work);
  if (err == 0)
    return true;
  error = cudaFailure(what, err);
  return false;
}

/// An event of the binary's context in `e`, made once.
int madeEvent(void *&e) {
  return e ? 0 : streamApi().event(&e, kDisableTiming);
}
} // namespace

bool StepStreams::usable(std::string &why) {
  if (!usesCuda())
    return false;
  const char *on = std::getenv("LOPT_CUDA_STREAMS");
  if (!on || std::strcmp(on, "1") != 0) {
    why = "off (LOPT_CUDA_STREAMS=1 turns them on)";
    return false;
  }
  if (!KernelGraph::usable(why)) {
    why = "off: they fork the graphs' stream, and graphs are " + why;
    return false;
  }
  if (!streamApi().complete()) {
    why = "off: the CUDA driver lacks the stream or event functions";
    return false;
  }
  return true;
}

bool StepStreams::make(int count, int steps, std::string &error) {
  const StreamApi &api = streamApi();
  return cudaStep("making streams (cuStreamCreate)", error, [&] {
    // (The binary's stream, made in the context at its first request.)
    void *own = nullptr;
    halide_cuda_get_stream(nullptr, nullptr, &own);
    if (!theStream)
      return -1;
    streams.resize(size_t(std::max(count, 1)), nullptr);
    streams[0] = theStream;
    for (void *&s : streams)
      if (!s)
        if (int e = api.create(&s, kNonBlocking))
          return e;
    events.resize(size_t(steps), nullptr);
    ends.resize(streams.size(), nullptr);
    for (void *&e : events)
      if (int err = madeEvent(e))
        return err;
    for (void *&e : ends)
      if (int err = madeEvent(e))
        return err;
    return 0;
  });
}

bool StepStreams::fork(std::string &error) {
  const StreamApi &api = streamApi();
  if (streams.empty() || !theStream) {
    error = "several streams: forked before they were made";
    return false;
  }
  // Every stream starts after the work already on the binary's.
  if (!cudaStep("forking streams (cuEventRecord, cuStreamWaitEvent)", error, [&] {
        if (int e = api.record(ends[0], theStream))
          return e;
        for (size_t s = 1; s < streams.size(); ++s)
          if (int e = api.wait(streams[s], ends[0], 0))
            return e;
        return 0;
      }))
    return false;
  std::lock_guard<std::mutex> lock(poolLock);
  onSteps = true;
  stepStream = theStream;
  current = 0;
  used = int(streams.size());
  return true;
}

bool StepStreams::before(int k, int stream, const int32_t *waits,
                         int numWaits, std::string &error) {
  if (stream < 0 || stream >= used) {
    error = "step " + std::to_string(k) + " is planned on stream " +
            std::to_string(stream) + " of " + std::to_string(used);
    return false;
  }
  const StreamApi &api = streamApi();
  if (!cudaStep("waiting for earlier steps (cuStreamWaitEvent)", error, [&] {
        for (int w = 0; w < numWaits; ++w) {
          int j = waits[w];
          if (j < 0 || j >= int(events.size()) || !events[size_t(j)])
            return -1;
          if (int e = api.wait(streams[size_t(stream)], events[size_t(j)], 0))
            return e;
        }
        return 0;
      }))
    return false;
  std::lock_guard<std::mutex> lock(poolLock);
  current = stream;
  stepStream = streams[size_t(stream)];
  return true;
}

bool StepStreams::after(int k, std::string &error) {
  const StreamApi &api = streamApi();
  return cudaStep("marking a step's end (cuEventRecord)", error, [&] {
    return k >= 0 && k < int(events.size())
               ? api.record(events[size_t(k)], streams[size_t(current)])
               : -1;
  });
}

bool StepStreams::join(std::string &error) {
  const StreamApi &api = streamApi();
  bool ok = cudaStep("joining streams (cuEventRecord, cuStreamWaitEvent)",
                     error, [&] {
                       for (int s = 1; s < used; ++s) {
                         if (int e = api.record(ends[size_t(s)], streams[size_t(s)]))
                           return e;
                         if (int e = api.wait(theStream, ends[size_t(s)], 0))
                           return e;
                       }
                       return 0;
                     });
  std::lock_guard<std::mutex> lock(poolLock);
  onSteps = false;
  stepStream = nullptr;
  for (auto &[size, ptr] : freedOnSteps)
    kept.emplace(size, ptr);
  freedOnSteps.clear();
  return ok;
}

StepStreams::~StepStreams() {
  if (streams.empty() && events.empty())
    return;
  bool noContext = false;
  inContext(nullptr, noContext, [&] {
    const StreamApi &api = streamApi();
    for (void *e : events)
      if (e)
        api.destroyEvent(e);
    for (void *e : ends)
      if (e)
        api.destroyEvent(e);
    for (size_t s = 1; s < streams.size(); ++s)
      if (streams[s])
        api.destroy(streams[s]);
    return 0;
  });
}

KernelGraph::~KernelGraph() {
  if (!exec)
    return;
  bool noContext = false;
  inContext(nullptr, noContext, [&] {
    graphApi().destroyExec(exec);
    graphApi().destroy(graph);
    return 0;
  });
  std::lock_guard<std::mutex> lock(poolLock);
  for (CUdeviceptr p : holds)
    if (--pinned[p] == 0)
      pinned.erase(p);
}

StageScratch::StageScratch(uint64_t device, int64_t bytes) {
  if (!usesCuda())
    return;
  std::lock_guard<std::mutex> lock(poolLock);
  inKernelCall = true;
  if (!device || bytes <= 0 || !scratchEnabled())
    return;
  scratch.device = device;
  scratch.bytes = size_t(bytes);
  scratch.used = 0;
}

StageScratch::~StageScratch() {
  std::lock_guard<std::mutex> lock(poolLock);
  inKernelCall = false;
  scratch.device = 0;
  scratch.bytes = 0;
  fromScratch.clear();
}

double stageScratchPeakMb() {
  std::lock_guard<std::mutex> lock(poolLock);
  return double(scratch.peak) / (1 << 20);
}

int64_t stagesBesideArena() {
  if (!usesCuda())
    return -1;
  std::lock_guard<std::mutex> lock(poolLock);
  return stagesBeside;
}

double deviceAllocationPeakMb() {
  if (!usesCuda())
    return -1;
  std::lock_guard<std::mutex> lock(poolLock);
  return double(heldPeak) / (1 << 20);
}

std::string deviceDescription() {
  const char *api = lopt_program.device_api;
  if (!usesDevice())
    return "the CPU";
  if (std::strcmp(api, "cuda") == 0)
    return "CUDA (an NVIDIA GPU)";
  if (std::strcmp(api, "opencl") == 0)
    return "OpenCL (a GPU, or the CPU through pocl)";
  return api;
}

std::string deviceError(const std::string &what, int rc) {
  std::string said = takeHalideError();
  return what + " failed on the device (Halide error " + std::to_string(rc) +
         (said.empty() ? "" : ": " + said) +
         "); kernels run asynchronously, so the failing kernel may be an "
         "earlier one: `bench --profile 1` waits for each kernel and names it";
}

namespace {
/// Why the device could not be set up, and what to do.
std::string setupError(int rc) {
  std::string said = takeHalideError();
  bool cuda = usesCuda();
  return std::string("setting up ") + (cuda ? "CUDA" : "OpenCL") +
         " failed (Halide error " + std::to_string(rc) +
         (said.empty() ? "" : ": " + said) + "). This binary was built for " +
         (cuda ? "CUDA" : "OpenCL") + " (target " + lopt_program.target +
         ") and needs " +
         (cuda ? "an NVIDIA GPU of compute capability 8.0 or newer with its "
                 "driver (libcuda.so.1)"
               : "an OpenCL platform (libOpenCL.so and an ICD, such as "
                 "pocl-opencl-icd)") +
         "; build with --target host to run on the CPU";
}

/// CUDA sizes the local memory of a context by its stack limit per thread
/// times the threads that can be resident at once (2,048 per SM): with the
/// default of 1 KiB, 264 MiB on a GPU of 132 SMs, whether the kernels use
/// a stack or not. The driver raises the limit at a launch that needs more
/// ("The driver automatically increases the per-thread stack size for each
/// kernel launch as needed", cuCtxSetLimit), so it starts here at
/// LOPT_CUDA_STACK_BYTES (default 0: the least the driver allows) and
/// grows to what the kernels need. What it saves is not measured yet
/// (bench/gpu/run.sh: the rows `*default-stack`). Returns why the variable
/// is not a number of bytes, or "".
std::string setCudaStackSize() {
  static auto setLimit = cudaFunction<int (*)(int, size_t)>("cuCtxSetLimit");
  constexpr int kStackSize = 0; // CU_LIMIT_STACK_SIZE
  size_t bytes = 0;
  if (const char *v = std::getenv("LOPT_CUDA_STACK_BYTES")) {
    char *end = nullptr;
    bytes = size_t(std::strtoull(v, &end, 10));
    if (!*v || *end || *v == '-')
      return std::string("the environment variable LOPT_CUDA_STACK_BYTES "
                         "expects a number of bytes, got '") + v + "'";
  }
  bool noContext = false;
  inContext(nullptr, noContext,
            [&] { return setLimit ? setLimit(kStackSize, bytes) : -1; });
  return "";
}
} // namespace

bool checkDevice(std::string &error) {
  if (!usesDevice())
    return true;
  static bool checked = false;
  static int status = 0;
  static std::string message;
  if (!checked) {
    checked = true;
    halide_dimension_t dim = {0, 16, 1, 0};
    halide_buffer_t probe;
    std::memset(&probe, 0, sizeof probe);
    probe.type = halide_type_t(halide_type_float, 32);
    probe.dimensions = 1;
    probe.dim = &dim;
    status = halide_device_malloc(nullptr, &probe,
                                  lopt_program.device_interface());
    if (status == 0) {
      halide_device_free(nullptr, &probe);
      // Stages stored inside a kernel are device allocations made on every
      // call: keep them for the next call.
      halide_reuse_device_allocations(nullptr, true);
      if (usesCuda())
        message = setCudaStackSize();
      if (!message.empty())
        status = -1;
    } else {
      message = setupError(status);
    }
  }
  error = message;
  return status == 0;
}

} // namespace lopt::driver
