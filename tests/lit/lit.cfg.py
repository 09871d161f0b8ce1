# lit configuration for lopt: FileCheck tests of loptc and lopt-opt.
import os
import lit.formats
from lit.llvm import llvm_config

config.name = "lopt"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".lopt", ".test"]
config.excludes = ["inputs", "Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.lopt_obj_root, "tests", "lit")

config.substitutions.append(("%examples", os.path.join(config.lopt_src_root, "examples")))
config.substitutions.append(("%shared_data", config.shared_data_dir))

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
tool_dirs = [os.path.join(config.lopt_obj_root, "bin"), config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["loptc", "lopt-opt", "FileCheck", "not", "count", "split-file"], tool_dirs)

if os.path.isdir(os.path.join(config.shared_data_dir, "omniglot")):
    config.available_features.add("omniglot")
if os.path.isdir(os.path.join(config.shared_data_dir, "mini-imagenet")):
    config.available_features.add("mini-imagenet")
if os.path.isdir("/usr/share/datasets/fashion-mnist"):
    config.available_features.add("fashion-mnist")

# A Python with NumPy, to check that .npz files load in NumPy.
import shutil, subprocess, sys
for py in [sys.executable, "/usr/bin/python3"]:
    try:
        if subprocess.run([py, "-c", "import numpy"], capture_output=True).returncode == 0:
            config.available_features.add("numpy")
            config.substitutions.append(("%numpy_python", py))
            break
    except OSError:
        pass

# NVIDIA's ptxas (not part of the build; `pip install nvidia-cuda-nvcc`),
# for bench/gpu/registers.py's static check of the CUDA kernels.
_ptxas = os.environ.get("PTXAS") or shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas"
if os.access(_ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%registers", "%s %s --ptxas %s" % (
        sys.executable, os.path.join(config.lopt_src_root, "bench", "gpu", "registers.py"), _ptxas)))

# bench/gpu/stages.py: each CUDA kernel's device stages against the plan.
config.substitutions.append(("%stages", "%s %s" % (
    sys.executable, os.path.join(config.lopt_src_root, "bench", "gpu", "stages.py"))))

# bench/gpu/launches.py: GPU launches per program, and with a stream plan
# the longest chain of them.
config.substitutions.append(("%launches", "%s %s" % (
    sys.executable, os.path.join(config.lopt_src_root, "bench", "gpu", "launches.py"))))

# Kernel objects shared by the tests that build binaries (loptc --cache):
# keyed by kernel, target and the loptc executable, so never stale.
config.substitutions.append(("%kernel_cache", os.path.join(config.test_exec_root, "kernel-cache")))

# valgrind, to check generated code's memory accesses.
if shutil.which("valgrind"):
    config.available_features.add("valgrind")
# valgrind (3.19) decodes up to AVX2: on x86-64, code for valgrind is built
# for AVX2 whether or not the host has AVX-512 (else: Illegal instruction).
import platform
config.substitutions.append(("%valgrind_target",
    "x86-64-linux-avx-avx2-f16c-fma-sse41" if platform.machine() == "x86_64" else "host"))

# GPU targets. opencl: an OpenCL platform Halide's runtime can load
# (libOpenCL.so and an ICD; pocl runs the kernels on the CPU), so the GPU
# schedules and the device-resident runner are tested on any machine.
# cuda: a CUDA driver and a GPU of compute capability 8.0 or newer (the
# kernels are sm_80 PTX).
import ctypes, glob
def _loads(lib):
    try:
        return ctypes.CDLL(lib)
    except OSError:
        return None
if _loads("libOpenCL.so") and glob.glob("/etc/OpenCL/vendors/*.icd"):
    config.available_features.add("opencl")
_cuda = _loads("libcuda.so.1")
if _cuda is not None:
    _count = ctypes.c_int(0)
    _major = ctypes.c_int(0)
    if (_cuda.cuInit(0) == 0 and _cuda.cuDeviceGetCount(ctypes.byref(_count)) == 0
            and _count.value > 0
            # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR of device 0
            and _cuda.cuDeviceGetAttribute(ctypes.byref(_major), 75, 0) == 0
            and _major.value >= 8):
        config.available_features.add("cuda")
