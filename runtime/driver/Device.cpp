//===- Device.cpp - the GPU a binary's kernels may run on -----------------===//
#include "runtime/driver/Device.h"

#include "runtime/driver/ProgramABI.h"

#include <HalideRuntime.h>

#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <vector>

// Halide 14's CUDA runtime finds the driver by dlopen("libcuda.so"), the
// unversioned name that only a CUDA toolkit's development files install;
// a machine with the driver alone (most containers and GPU servers) has
// libcuda.so.1. This strong definition replaces the runtime's weak one
// (a CPU or OpenCL binary never calls it).
extern "C" void *halide_cuda_get_symbol(void *, const char *name) {
  static void *lib = [] {
    for (const char *soname : {"libcuda.so.1", "libcuda.so"})
      if (void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL))
        return h;
    return static_cast<void *>(nullptr);
  }();
  return lib ? dlsym(lib, name) : nullptr;
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
  bool cuda = std::strcmp(lopt_program.device_api, "cuda") == 0;
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
    } else {
      message = setupError(status);
    }
  }
  error = message;
  return status == 0;
}

} // namespace lopt::driver
