//===- HalideLowering.h - kernel graphs as Halide pipelines -----*- C++ -*-===//
//
// Internal to codegen (it includes Halide.h): the algorithm of a kernel
// (HalideLowering.cpp) and its CPU and GPU schedules (CpuSchedule.cpp,
// GpuSchedule.cpp), shared by the JIT (KernelCompiler, CPU only) and the
// AOT compiler.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_CODEGEN_HALIDELOWERING_H
#define LOPT_CODEGEN_HALIDELOWERING_H

#include "codegen/KernelGraph.h"

#include <Halide.h>

#include <algorithm>
#include <map>
#include <set>

namespace lopt::codegen {

/// One kernel as a Halide pipeline: parameters in argument order, outputs
/// in result order (static dense shapes declared on both), and every Func
/// that is stored (computed at root), outputs included, with its row-major
/// shape.
struct LoweredKernel {
  std::vector<Halide::ImageParam> params;
  std::vector<Halide::Func> outputs;
  std::vector<std::pair<Halide::Func, Shape>> stages;
  /// For sums whose term reuses one input value across several outputs
  /// (a convolution's input pixel across output channels): by Func name,
  /// the row-major dimensions to block (and the block size, 0 for all of
  /// it) inside the reduction loops.
  std::map<std::string, std::vector<std::pair<int, int>>> reuse;
  /// Sums taken a column at a time (by Func name; a CPU's long sums, see
  /// HalideLowering.cpp, longSum): a sum for each index of the region's
  /// innermost dimension, which is the result's innermost one. All of a
  /// row's vectors are summed at once, so that each row of the region is
  /// read once, in order; each term is read once, so what it reads may
  /// still be recomputed there.
  std::set<std::string> columnSums;
  /// Sums whose outermost reduction (a weight gradient's images) runs in
  /// chunks of this many (by Func name), each chunk's terms summed into
  /// every result before the next: where one block of results reads more
  /// than the cache holds of dy over all the images (a first layer's 84 x
  /// 84 rows, read again for each input channel), a chunk's stays there.
  std::map<std::string, int> reductionChunks;
  /// Sums whose innermost reduction (a weight gradient's rows) is unrolled
  /// by this many (by Func name): consecutive output rows read overlapping
  /// input rows (row y s + ky), and unrolled, each input row is loaded
  /// once for the ky that read it.
  std::map<std::string, int> reductionUnroll;
  /// Sums over the coordinates of a mapped kernel (by Func name): their
  /// domain is long and their result small. (Lowered forGpu, those over
  /// more than 64 coordinates are taken in levels instead, not listed.)
  std::set<std::string> coordinateSums;
  /// Outputs that copy a sum which nothing else reads (by the copy's Func
  /// name, the sum's): lowered forGpu, the schedule computes the sum inside
  /// the copy's threads; for a CPU (a convolution whose rows are not whole
  /// vectors), a tile of the copy at a time.
  std::map<std::string, std::string> copiedSums;
  /// Stages that a GPU schedule stores though they are cheap to recompute
  /// (by Func name):
  /// - those that lay out a small shared weight transposed, so that a
  ///   sum's neighbouring results read neighbouring weights: in place each
  ///   thread would load the weight from the other layout (a warp reading
  ///   32 rows, not one);
  /// - those that a sum's threads read many times over (a weight
  ///   gradient's dy, by the threads of every input channel).
  std::set<std::string> keptStored;
  /// On a CPU, concatenations of whole parts into one vector, not in a
  /// mapped graph (by Func name): one update definition per part copying
  /// it to its place (the pure one undefined), each vectorised along the
  /// part. (As one definition, a select between the parts, every vector
  /// of the result was gathered from each part at clamped indices.)
  std::set<std::string> pieceCopies;
  /// Stages that a GPU's thread per coordinate computes in vectors of 4
  /// along their innermost dimension (by Func name; coordinateThreads): a
  /// product over a shared weight laid out transposed, whose rows then load
  /// 4 at a time.
  std::set<std::string> threadVectors;
  /// Lowered forGpu: sums taken by a block of threads (by the Func name of
  /// the sum, which has one result per block): a thread's sum of its terms
  /// [thread, block] (an update definition), the same as a stage of the
  /// block, and the sums of kBlockGroup of those [group, block] that the
  /// sum adds up (HalideLowering.cpp, blockLevel).
  struct BlockSum {
    Halide::Func terms, threads, groups;
  };
  std::map<std::string, BlockSum> blockSums;
  /// Scheduled for a GPU: the bytes of the stages its call stores on the
  /// device besides its outputs, each rounded up to kStageAlignment: no
  /// more than that is held at once during a call.
  int64_t deviceStageBytes = 0;
  /// Lowered for a CPU, a mapped kernel: its per-coordinate stages run
  /// kCoordinateTile coordinates at a time, in one loop over the tiles
  /// shared by its per-coordinate outputs (`tiled`, by Func name: copies,
  /// which no stage reads) and by the sums of each tile (`tileSums`, [tile,
  /// ..]) that the sums over the coordinates add up afterwards.
  bool coordinateTiles = false;
  /// Lowered forGpu, a mapped kernel with a per-coordinate result: one
  /// thread computes all of a coordinate's per-coordinate stages, and its
  /// per-coordinate outputs (`tiled`, copies as for tiles) are one loop
  /// (GpuSchedule.cpp).
  bool coordinateThreads = false;
  std::set<std::string> tiled;
  std::set<std::string> tileSums;
};

/// Coordinates per tile of a mapped kernel on a CPU (coordinateTiles): a
/// tile of every stage stays in the first cache levels (an LSTM's 80 gates
/// of 64 coordinates are 20 KB).
constexpr int64_t kCoordinateTile = 64;

/// Threads of a block that takes a sum (LoweredKernel::blockSums), and
/// the partial sums of its threads that each group sums.
constexpr int64_t kBlockSumThreads = 256;
constexpr int64_t kBlockGroup = 8;

/// The threads that keep a GPU busy: what the first level of a sum in
/// levels (treeSum) aims for, and below which a blocked sum's threads hide
/// little of its loads' latency (GpuSchedule's unrollLongChain).
constexpr int64_t kBusyThreads = 65536;

/// The alignment of a stage that a GPU kernel call stores in its step's
/// range of the arena (runtime/driver/Device.cpp places them there).
constexpr int64_t kStageAlignment = 256;

/// The algorithm of `graph`; false with `error` for an op with no lowering.
/// `gpu` (null for a CPU): the GPU target of the variant for GPU schedules,
/// the same values computed with more parallelism: an output that is a sum
/// (an update definition) is copied into an output Func of its own, so that
/// the schedule may keep the sum in a thread's registers, and long sums
/// into few results are taken in levels of short sums; the gates'
/// exponentials and divisions are the device's fast forms.
bool lowerKernel(const KernelGraph &graph, LoweredKernel &out,
                 std::string &error, const Halide::Target *gpu = nullptr);

/// The largest block of at most `most` that divides `extent` (1 if none).
inline int64_t largestDivisor(int64_t extent, int64_t most) {
  int64_t block = std::min(most, extent);
  while (block > 1 && extent % block)
    --block;
  return std::max<int64_t>(block, 1);
}

/// Whether `f`'s definition calls an inline reduction (sum, maximum, ...),
/// which Halide computes in a small buffer inside f's innermost loop
/// (shared by both schedules).
bool hasInlineReduction(const Halide::Func &f);
/// The terms of the longest such reduction (the product of its reduction
/// extents; 0 when there is none).
int64_t inlineReductionTerms(const Halide::Func &f);

/// A sum of at most this many terms is unrolled whole by the schedules
/// (unrollShortReductions).
constexpr int64_t kUnrolledTerms = 32;

/// Unrolls the innermost reduction loops of `f`'s update while their terms
/// multiply to at most `maxTerms` (shared by both schedules); returns how
/// many it unrolled.
size_t unrollShortReductions(Halide::Func f, int64_t maxTerms = kUnrolledTerms);

/// Loop order, vectors and threads of every stage of `k` for a CPU target.
void scheduleForCpu(const KernelGraph &graph, LoweredKernel &k,
                    const Halide::Target &target);

/// Blocks and threads of every stage of `k` for a GPU target (CUDA, or
/// OpenCL where no NVIDIA GPU is at hand); `k` must be lowered forGpu. Every stage runs on the device.
void scheduleForGpu(const KernelGraph &graph, LoweredKernel &k,
                    const Halide::Target &target);

} // namespace lopt::codegen

#endif // LOPT_CODEGEN_HALIDELOWERING_H
