//===- Program.h - a function as a straight-line kernel program -*- C++ -*-===//
//
// After the pipeline an episode function is straight-line code over static
// shapes. A Program is that code as kernel calls: every op (or every
// lopt.map_cell, as one kernel over all coordinates) is a step calling a
// kernel of the shared KernelTable on value slots; reshapes, flattens,
// stop_gradients and slices of contiguous elements are views of their
// operand's storage and cost nothing.
// Both the JIT executor and the AOT compiler run Programs; the memory
// planner places their storage. Neither MLIR nor Halide types appear here
// (buildProgram takes a func::FuncOp by forward declaration).
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_PROGRAM_H
#define LOPT_CODEGEN_PROGRAM_H

#include "codegen/KernelGraph.h"
#include "runtime/Init.h"

#include <map>
#include <string>
#include <vector>

namespace mlir {
class Operation;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace lopt::codegen {

/// Unique kernels, shared by the Programs of one module: kernels equal by
/// KernelGraph::key (the same op on the same shapes in each of the T
/// unrolled steps) are compiled once.
struct KernelTable {
  std::vector<KernelGraph> kernels;
  std::map<std::string, int> byKey;
  /// The index of `g`, added when new.
  int intern(KernelGraph g);
  /// The C symbol of kernel `i`: "lopt_" and a hash of its key, so that a
  /// kernel keeps its name (and cached object) from one build to the next.
  std::string symbol(size_t i) const;
};

/// One value of a program: a tensor slot. A view shares the storage of the
/// value it was made from (`storage` names the slot that owns memory),
/// from its element `offset` on.
struct ProgramValue {
  Shape shape;
  bool isInt = false;
  int storage = -1;   // itself, or the slot it is a view of
  int64_t offset = 0; // a view's first element in its storage
};

struct ProgramStep {
  int kernel = -1;
  std::vector<int> inputs, outputs; // value slots, in kernel argument order
  std::string op;                   // the op(s) (or cell) it runs, for reports
};

/// What an argument or result is (from lopt.role / lopt.name / lopt.init).
struct TensorInfo {
  std::string role, name;
  Shape shape;
  bool isInt = false;
  InitSpec init;
};

struct Program {
  std::string name;                // the function's symbol
  std::vector<ProgramValue> values;
  std::vector<ProgramStep> steps;
  std::vector<int> args, results;  // value slots
  std::vector<TensorInfo> argInfo, resultInfo;
};

/// Translates `fn` (straight-line lopt ops, map_cells and a return) into
/// `prog`, interning its kernels in `table`. Runs of cheap element-wise ops,
/// broadcasts, reduce_sums, matmuls and maxpool_backwards (a max-pooling, relu and
/// batch-norm backward, whole) are fused into one step whose intermediate
/// values are not results, and so are such ops after a batchnorm or a
/// concat; later reduce_sums of a run's values join it (but see
/// ProgramOptions::sumsOfResultsApart), and
/// so does a conv2d_backward_filter right after it (past sums that runs
/// took in) that alone reads the gradient the run makes (a first layer's,
/// of at most 4 input channels).
/// `stepOps`, when given, gets the op of each step (null for a fused run).
/// False with `error` on an op that has no kernel.
struct ProgramOptions {
  /// A slice whose elements are contiguous in its operand is a view when
  /// its byte offset is a multiple of this (OpenCL sub-buffers need
  /// kSlotAlignment, CUDA ones 16 bytes for vector loads; CPU buffers
  /// may start at any element), else a step.
  int64_t viewAlignment = 4;
  /// A later reduce_sum of a value that the run makes and that steps
  /// after the run read anyway (a bias gradient, the sum of the gradient
  /// a batch norm's backward hands to the convolution below) stays a step
  /// of its own instead of joining the run: on a CUDA device it can then
  /// run beside the steps that go on from that gradient (StreamPlan.h).
  bool sumsOfResultsApart = false;
};
bool buildProgram(mlir::func::FuncOp fn, KernelTable &table, Program &prog,
                  std::string &error,
                  std::vector<mlir::Operation *> *stepOps = nullptr,
                  const ProgramOptions &options = {});

/// Floating-point operations of one run of `g` (a multiply-add counts 2,
/// any other arithmetic or transcendental op 1, data movement 0).
double kernelFlops(const KernelGraph &g);
/// What `g` computes, briefly: "conv2d [5, 32, 28, 28]", or for a mapped
/// cell "cell x 32901 (lstm, affine, ...)".
std::string kernelSummary(const KernelGraph &g);
/// Floating-point operations of one run of `prog`.
double programFlops(const Program &prog, const KernelTable &table);

/// The alignment, in bytes, the planner gives every buffer: whole cache
/// lines and vectors on a CPU; on a GPU every slot starts where cudaMalloc's
/// allocations do, so that neighbouring threads' accesses coalesce as they
/// would in a buffer of its own, and OpenCL devices' base-address alignment
/// (of sub-buffers, so of views too) is met.
constexpr int64_t kSlotAlignment = 256;

/// Bytes of one slot's storage, rounded up to kSlotAlignment.
int64_t slotBytes(const ProgramValue &v);

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_PROGRAM_H
