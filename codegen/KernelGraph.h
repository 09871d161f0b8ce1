//===- KernelGraph.h - what one compiled kernel computes --------*- C++ -*-===//
//
// The interface between the MLIR side (Executor.cpp) and Halide
// (HalideLowering.cpp): a small dataflow graph of lopt ops with static
// shapes, which becomes one Halide pipeline. A lone op is a graph of one
// node; a fused run of element-wise ops a chain of nodes; a lopt.map_cell
// its cell's whole body, mapped over coordinates.
// Neither MLIR nor Halide types appear here.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_KERNELGRAPH_H
#define LOPT_CODEGEN_KERNELGRAPH_H

#include "runtime/Tensor.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lopt::codegen {

struct KernelNode {
  std::string op;              // "arg", "constant", or an op name ("conv2d")
  std::vector<int> inputs;     // node indices
  int result = 0;              // which result of a multi-result op (`of`)
  int of = -1;                 // for result > 0: the node holding the op
  Shape shape;                 // per coordinate in a mapped graph
  bool isInt = false;
  std::map<std::string, double> num;            // numeric attributes
  std::map<std::string, std::vector<int64_t>> ints; // dims, offsets
  std::string str;             // string attribute (batch-norm mode)
};

struct KernelGraph {
  std::vector<KernelNode> nodes;
  std::vector<int> args;    // argument order
  std::vector<int> results; // result order
  int64_t coords = 0;       // > 0: mapped over this many coordinates
  std::vector<bool> mapped;  // per argument (mapped graphs)
  std::vector<bool> reduced; // per result (mapped graphs)

  /// A key that is equal for graphs computing the same function of
  /// same-shaped arguments: kernels are compiled once per key.
  std::string key() const;
};

/// Whether `op` (a lopt op name without the dialect) is element-wise: each
/// result element reads the operands' elements at its own index only.
bool isElementwise(const std::string &op);

/// A buffer handed to a kernel: row-major float or int32 data.
struct KernelBuffer {
  Shape shape;
  float *f = nullptr;
  int32_t *i = nullptr;
};

/// Compiles (once per key) and runs kernel graphs with Halide's JIT for the
/// host. Not thread-safe.
class KernelCompiler {
public:
  KernelCompiler();
  ~KernelCompiler();
  /// Runs `graph` on `args` into preallocated `results` (shapes as the
  /// graph's results, including the coordinate dimension where mapped).
  bool run(const KernelGraph &graph, const std::vector<KernelBuffer> &args,
           const std::vector<KernelBuffer> &results, std::string &error);
  size_t numCompiled() const;
  double compileSeconds() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_KERNELGRAPH_H
