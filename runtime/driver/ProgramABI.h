//===- ProgramABI.h - what loptc generates for a binary ---------*- C++ -*-===//
//
// The interface between a generated program (tables written by
// codegen/DriverGen.cpp and compiled with the kernels' objects) and the
// prebuilt driver (runtime/driver) that runs it. Plain C structures: the
// program is data, the only code it carries is the kernels. A kernel is
// called through its Halide `_argv` entry with halide_buffer_t pointers.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_PROGRAMABI_H
#define LOPT_RUNTIME_DRIVER_PROGRAMABI_H

#include <cstdint>

extern "C" {

/// Bump when a structure below changes.
#define LOPT_ABI_VERSION 6
#define LOPT_MAX_RANK 8

typedef int (*lopt_kernel_fn)(void **args);
struct halide_device_interface_t;
/// Halide's interface of the device the kernels run on (a GPU target).
typedef const struct halide_device_interface_t *(*lopt_device_fn)(void);

/// One tensor slot: row-major `shape`, float32 or int32, at `offset` bytes
/// in the function's arena (a view: inside its storage's bytes). A GPU
/// module's kernels take a scalar (rank 0) as a buffer of one element.
struct lopt_buffer {
  int64_t offset;
  int32_t rank, is_int;
  int64_t shape[LOPT_MAX_RANK];
};

/// A named argument or result of a function and its slot.
struct lopt_tensor {
  const char *name, *role;
  int32_t slot;
};

/// A kernel call on slots step_args[first_arg .. first_arg + num_args):
/// inputs, then outputs. On a CUDA device it may run on its `stream` (of
/// the function's num_streams) after the steps step_waits[first_wait ..
/// first_wait + num_waits) on other streams (codegen/StreamPlan.h); run
/// in order on one stream, it needs neither.
struct lopt_step {
  int32_t kernel, first_arg, num_args;
  int32_t stream, first_wait, num_waits;
};

/// One compiled function (the meta-gradient of an episode, or its forward).
struct lopt_function {
  const char *name;
  int32_t num_buffers;
  const lopt_buffer *buffers;
  int32_t num_args;
  const lopt_tensor *args;
  int32_t num_results;
  const lopt_tensor *results;
  int32_t num_steps;
  const lopt_step *steps;
  const int32_t *step_args;
  /// Per step, three numbers: the offset and size in bytes of the largest
  /// range of the arena no buffer alive at the step occupies (for a step
  /// whose bytes are kept for the steps after it, codegen/StreamPlan.h,
  /// the range its stages were placed at), where the driver places the
  /// stages the step's kernel stores, when they fit; and the bytes of
  /// stages planned (a CUDA binary's; a step running beside others takes
  /// no more of the range).
  const int64_t *step_scratch;
  const int32_t *step_waits;
  int32_t num_streams;
  int64_t arena_bytes;     // planned from liveness
  int64_t unplanned_bytes; // every buffer apart
  double flops;            // per run
};

/// An initialiser of a meta-parameter or initial state, in the order they
/// are drawn from one seeded generator. Pieces named "theta0" (the
/// learner's parameters) are concatenated into one vector.
struct lopt_init {
  const char *name, *piece; // piece: the learner parameter ("" otherwise)
  const char *kind;         // zeros|ones|constant|uniform|normal|fan_in_uniform
  double a, b;
  int64_t fan_in;
  int32_t rank;
  int64_t shape[LOPT_MAX_RANK];
};

struct lopt_module {
  int32_t abi_version;
  const char *source, *episode, *target, *compiled; // compiled: UTC date
  /// "" for kernels that run on the CPU; "cuda" or "opencl": every buffer
  /// of a function lives on that device (its interface below, else null).
  const char *device_api;
  lopt_device_fn device_interface;
  int64_t ways, shots, queries, steps, inner_batch, horizon;
  const char *meta_gradient, *meta_optimizer, *bn_eval;
  /// learned | fixed | random: how theta0 is obtained (see docs/language.md).
  const char *init;
  /// Identifies the description (the front end's MLIR of the file, with the
  /// command line's overrides; not the target): a checkpoint is only read
  /// by binaries with the same fingerprint.
  const char *fingerprint;
  double lr, beta1, beta2, epsilon, clip_norm;
  int64_t learner_params;
  int32_t num_kernels;
  const lopt_kernel_fn *kernels;
  const char *const *kernel_ops; // what each kernel computes, for profiles
  const double *kernel_flops;    // per call
  int32_t num_functions;
  const lopt_function *functions;
  /// Indices into `functions`: the meta-training step (the meta-gradient;
  /// -1 when the episode learns nothing) and the episode forward for
  /// meta-testing (query results with the batch-norm evaluation semantics).
  int32_t train_function, eval_function;
  int32_t num_inits;
  const lopt_init *inits;
};

/// Defined by the generated program.
extern const lopt_module lopt_program;
}

#endif // LOPT_RUNTIME_DRIVER_PROGRAMABI_H
