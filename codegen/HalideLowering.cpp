//===- HalideLowering.cpp - kernel graphs as Halide pipelines -------------===//
//
// Each node becomes a Halide Func over its row-major indices (Halide's
// argument order is innermost first, so indices are reversed at every
// call). In a mapped graph every value has a leading coordinate index k.
// This file is the algorithm only: which Funcs are stored (computed at
// root) and the static buffer shapes. How they are computed (loop order,
// vectors, threads) is CpuSchedule.cpp's.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"
#include "codegen/HostTarget.h"

#include <Halide.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <cmath>
#include <sstream>
#include <set>
#include <unordered_map>

namespace lopt::codegen {

using namespace Halide;

std::string KernelGraph::key() const {
  std::ostringstream os;
  os << "coords=" << coords << ";";
  for (bool m : mapped)
    os << m;
  os << ";";
  for (bool r : reduced)
    os << r;
  for (const KernelNode &n : nodes) {
    os << "|" << n.op << "#" << n.result << "@" << n.of << ":";
    for (int i : n.inputs)
      os << i << ",";
    os << shapeToString(n.shape) << (n.isInt ? "i" : "f") << n.str;
    for (auto &[k, v] : n.num)
      os << k << "=" << v << ";";
    for (auto &[k, v] : n.ints) {
      os << k << "=";
      for (int64_t x : v)
        os << x << ",";
    }
  }
  os << "|args";
  for (int a : args)
    os << a << ",";
  os << "|results";
  for (int r : results)
    os << r << ",";
  return os.str();
}

namespace {

/// A lowered value: a Func over the row-major index list `shape`.
struct Val {
  Func f;
  Shape shape;
};

Expr at(const Val &v, std::vector<Expr> idx) {
  std::reverse(idx.begin(), idx.end());
  return v.f(idx);
}

/// Row-major index variables, named from the innermost ("d0") out: the
/// innermost is named alike in every Func (the GPU schedule fuses the loops
/// of several Funcs, which must name them alike).
std::vector<Var> makeVars(size_t n) {
  std::vector<Var> vs;
  for (size_t i = 0; i < n; ++i)
    vs.push_back(Var("d" + std::to_string(n - 1 - i)));
  return vs;
}

std::vector<Expr> exprs(const std::vector<Var> &vs) {
  return std::vector<Expr>(vs.begin(), vs.end());
}

Val define(const Shape &shape, const std::function<Expr(std::vector<Expr>)> &body,
           const std::string &name) {
  std::vector<Var> vs = makeVars(shape.size());
  Func f(name);
  std::vector<Var> rev(vs.rbegin(), vs.rend());
  f(rev) = body(exprs(vs));
  return {f, shape};
}

/// The exponential and the division of the sigmoid and tanh gates. On a
/// CPU, an exponential of our own, inline (cpuSigmoid), and an IEEE
/// division. On a GPU, the device's fast forms: CUDA's ex2.approx and
/// div.approx (libdevice's __nv_fast_expf, __nv_fast_fdividef), OpenCL's
/// native_exp and native_divide. Halide's exp there is its CPU polynomial
/// (about 20 instructions) and its division div.rn.f32 (about 10 in SASS,
/// a slow path beside), 35 instructions a gate of which the fast forms leave 4:
/// in the Mini-ImageNet cell's thread per coordinate, 102 gates (an LSTM
/// of 20 cells: 80 gates and 20 tanh; the two affine gates) were more than
/// half its instructions. Their relative error, about 2^-22 for ex2 and 2
/// ulp for the division (PTX ISA), plus the rounding of x log2(e) (1e-6
/// relative at |x| = 16), is far below the 1e-4 to which bench/gpu's
/// correctness check holds the device (pocl's native forms are exact: the
/// OpenCL tests check the lowering, not that error).
struct GateMath {
  std::string fastExp, fastDivide; // extern names; empty on a CPU
  // The fast forms (a GPU's only).
  Expr exp(Expr x) const {
    return Internal::Call::make(Float(32), fastExp, {x}, Internal::Call::PureExtern);
  }
  Expr divide(Expr a, Expr b) const {
    return Internal::Call::make(Float(32), fastDivide, {a, b}, Internal::Call::PureExtern);
  }
  Expr sigmoid(Expr x) const {
    if (fastExp.empty())
      return cpuSigmoid(x);
    return divide(1.0f, 1.0f + exp(-x));
  }
  /// tanh through the sigmoid's exponential, which vectorises (Halide's
  /// tanh is a scalar libm call per lane); exact to rounding at both ends.
  Expr tanh(Expr x) const {
    if (fastExp.empty())
      return 2.0f * cpuSigmoid(2.0f * x) - 1.0f;
    return 1.0f - divide(2.0f, 1.0f + exp(2.0f * x));
  }

  /// The sigmoid on a CPU, after XNNPACK's f32 sigmoid (rr1-p5-div):
  /// e = exp(-|x|) as 2^n p(t), n = round(-|x| log2 e), t = |x| + n ln 2
  /// (one multiply-add: n ln 2's rounding is far below float's for a
  /// sigmoid), p of degree 5 on [-ln2/2, ln2/2]; then e / (1 + e), or
  /// 1 - that for x > 0. Halide's exp (range reduction in two steps,
  /// degree 7, floor as two 8-lane roundings on AVX-512, checks at both
  /// ends) took about 23 cycles a vector of 16 in the cell's gates (Zen 4,
  /// Halide's profiler); this is 10 multiply-adds a vector. Relative
  /// error at most 2.6e-7 for |x| < 80 (Halide's exp and a division:
  /// 2.3e-7), checked against a double sigmoid in steps of 1e-4; 0 below
  /// -87.34 (exp(-|x|) would be subnormal); NaN stays NaN.
  static Expr cpuSigmoid(Expr x) {
    Expr z = abs(x);
    Expr ni = cast<int32_t>(z * -1.44269504f - 0.5f); // z >= 0: round
    Expr n = cast<float>(ni);
    Expr s = reinterpret<float>((ni + 127) << 23); // 2^n
    Expr t = n * 0.693147181f + z;
    Expr p = t * -0x1.0F9F9Cp-7f + 0x1.573A1Ap-5f;
    p = t * p + -0x1.555A80p-3f;
    p = t * p + 0x1.FFFDC6p-2f;
    p = t * p + -0x1.FFFFF6p-1f;
    Expr e = (t * s) * p + s;
    Expr f = select(z > 87.3365402f, 0.0f, e / (e + 1.0f));
    return select(is_nan(x), x, x > 0.0f, 1.0f - f, f);
  }
};

/// For a GPU, a long sum into fewer results than this is taken in levels
/// (more results keep enough threads busy by themselves). In one level, a
/// convolution's weight gradient (9,216 results of 210 to 525 partial sums
/// each; 288 warps, about 2 an SM, each thread a chain of that many loads
/// and additions in double) took 14 to 36 us a call on an H200, 0.61 ms
/// of a 5w5s meta-iteration (2026-11-28).
constexpr int64_t kFewResults = kBusyThreads / 4;
/// Terms per thread in a level: at least kMinLevelTerms in the first,
/// at most kLevelTerms in any; a last level of at most kLastLevelTerms is
/// left to the stage that reads the sum.
constexpr int64_t kMinLevelTerms = 8;
constexpr int64_t kLevelTerms = 64;
constexpr int64_t kLastLevelTerms = 128;
/// Partial sums left to the reader of a sum in one level, where the
/// level's terms per thread allow (at most kLevelTerms).
constexpr int64_t kReaderTerms = 32;
/// On a CPU, a long sum whose innermost region dimension has at least this
/// many indices (a row of pixels) is taken a column at a time, in vectors
/// (longSum).
constexpr int64_t kColumnSumTerms = 8;
/// On a CPU, the most bytes of dy that a weight gradient's block of 4
/// output channels reads over its images, or over a chunk of them
/// (LoweredKernel::reductionChunks): a core's L2 cache (Zen 4).
constexpr int64_t kCpuSumChunkBytes = 1024 * 1024;
/// The name of every such sum's reduction over the rows.
constexpr const char *kColumnRows = "column_rows";
/// For a GPU, a sum into at most this many results (not over the
/// coordinates) is taken in levels of blocks of threads (blockLevel), a
/// block per result and span of terms: about as many threads as
/// kBusyThreads where one span is enough. (A convolution's weight
/// gradient, 9,216 results of 210 to 1,050 partial sums each, would be
/// 9,216 blocks of mostly idle threads.)
constexpr int64_t kBlockSumResults = kBusyThreads / kBlockSumThreads;
/// For a GPU, the block of rows x columns of a matrix that each thread of
/// the first level of a sum over the coordinates takes (treeSum): 12 loads
/// per 32 multiply-adds for an outer product per coordinate.
constexpr int64_t kSumBlockRows = 4;
constexpr int64_t kSumBlockColumns = 8;
/// Per thread (GPU) or per block (CPU) of a matrix product over a weight
/// that every coordinate shares (see coordinateBlocks): on a CPU,
/// coordinates; on a GPU, result rows of an LSTM's input gradient, where
/// a kernel keeps a launch per stage (a cell's second-order gradient;
/// otherwise a thread per coordinate computes both). (Its
/// pre-activations take one row a thread. Measured on an H200 at
/// Mini-ImageNet size: in blocks of 8 rows they took 44 us a call, on
/// 329,216 threads, 1.2 waves of them; one row a thread 31 us, on
/// 2,632,080. The input gradient took 29 us in blocks of 8, 32 in one.)
constexpr int kCoordinateBlock = 8;
/// The fewest terms (input channels x taps) of a convolution's sum taken
/// with its channels innermost (Lowering::channelsInner).
constexpr int64_t kChannelsInnerTerms = 16;
constexpr int kGpuRowBlock = 8;

/// Lowers one graph. Values are per node, with the coordinate dimension
/// prepended in mapped graphs.
class Lowering {
public:
  Lowering(const KernelGraph &g, const Target *gpu)
      : g(g), mappedGraph(g.coords > 0), forGpu(gpu != nullptr),
        perCoordinateResult(mappedGraph && std::find(g.reduced.begin(), g.reduced.end(),
                                                     false) != g.reduced.end()) {
    if (gpu && gpu->has_feature(Target::CUDA))
      gates = {"__nv_fast_expf", "__nv_fast_fdividef"};
    else if (gpu && gpu->has_feature(Target::OpenCL))
      gates = {"native_exp", "native_divide"};
  }

  Shape full(const KernelNode &n) const {
    Shape s = n.shape;
    if (mappedGraph)
      s.insert(s.begin(), g.coords);
    return s;
  }
  /// The shape of a kernel argument's or result's buffer: for a GPU, a
  /// scalar is a buffer of one element, [1] (the runner passes its slot so;
  /// Halide 14 cannot fuse a scalar output's loop-less launch with
  /// others', so each took a launch of one thread: 3 of the 10 of a
  /// Mini-ImageNet cell VJP).
  Shape deviceShape(const Shape &s) const {
    return forGpu && s.empty() ? Shape{1} : s;
  }
  /// The per-coordinate prefix of an index list (k, or nothing).
  std::vector<Expr> prefix(const std::vector<Expr> &idx) const {
    return mappedGraph ? std::vector<Expr>{idx[0]} : std::vector<Expr>{};
  }
  std::vector<Expr> local(const std::vector<Expr> &idx) const {
    return mappedGraph ? std::vector<Expr>(idx.begin() + 1, idx.end()) : idx;
  }
  std::vector<Expr> cat(std::vector<Expr> a, const std::vector<Expr> &b) const {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  bool lower(LoweredKernel &out, std::string &error);

  /// Whether node reference `ref` (an input or result entry) denotes
  /// result `result` of node `id`.
  bool refersTo(int ref, int id, int result) const {
    const KernelNode &n = g.nodes[ref];
    return n.result > 0 ? n.of == id && n.result == result
                        : ref == id && result == 0;
  }

  /// The nodes that read result `result` of node `id`, and whether it is a
  /// result of the graph.
  std::pair<std::vector<const KernelNode *>, bool> readers(int id,
                                                           int result) const {
    std::vector<const KernelNode *> nodes;
    for (const KernelNode &n : g.nodes)
      for (int in : n.inputs)
        if (refersTo(in, id, result))
          nodes.push_back(&n);
    bool isResult = false;
    for (int r : g.results)
      isResult |= refersTo(r, id, result);
    return {nodes, isResult};
  }

  /// A value read once and not a result (in a cell, or a fused run of
  /// element-wise ops) is computed where it is read, not stored: chains of
  /// element-wise ops become one loop. Only into a consumer that reads it
  /// once per element it computes: a sum over it would recompute it for
  /// every term.
  bool fusedIntoConsumer(int id, int result) const {
    auto [nodes, isResult] = readers(id, result);
    if (nodes.size() != 1 || isResult)
      return false;
    static const std::set<std::string> once = {
        "slice", "reshape", "stop_gradient", "preprocess", "preprocess_grad",
        "reduce_sum"};
    return isElementwise(nodes[0]->op) || once.count(nodes[0]->op) > 0;
  }

  /// Whether result `result` of node `id` is used only as a result summed
  /// over the coordinates: then it is never stored whole (a shared weight's
  /// gradient would be coords times the weight), only its sum.
  bool onlySummedOverCoords(int id, int result) const {
    if (!mappedGraph || !readers(id, result).first.empty())
      return false;
    bool summed = false;
    for (size_t r = 0; r < g.results.size(); ++r)
      if (refersTo(g.results[r], id, result)) {
        if (!g.reduced[r])
          return false;
        summed = true;
      }
    return summed;
  }

private:
  bool lowerNode(int id, std::string &error);
  void copyPerCoordinateOutputs(LoweredKernel &out);
  /// In a kernel run tile by tile: per tile of coordinates, the sum of the
  /// per-coordinate `terms` ([coordinate, ..]).
  Val sumOfEachTile(const Val &terms);
  std::vector<Val> lowerOp(const KernelNode &n, std::string &error);

  const KernelGraph &g;
  bool mappedGraph;
  bool forGpu;
  GateMath gates; // the sigmoid and tanh gates' exponential and division
  /// A mapped kernel with a result per coordinate: run tile by tile on a
  /// CPU (coordinateTiles), a thread per coordinate on a GPU
  /// (coordinateThreads).
  bool perCoordinateResult;
  std::unordered_map<int, std::vector<Val>> values; // node -> results
  int counter = 0;
  std::vector<std::pair<Func, Shape>> stored; // computed at root
  std::set<std::string> argNames; // the arguments' Funcs (ImageParam p's: p_im)
  std::map<std::string, std::vector<std::pair<int, int>>> reuse;
  std::set<std::string> columnSums;
  std::map<std::string, int> reductionChunks; // LoweredKernel::reductionChunks
  std::map<std::string, int> reductionUnroll; // LoweredKernel::reductionUnroll
  std::set<std::string> keptStored; // LoweredKernel::keptStored
  std::set<std::string> threadVectors; // LoweredKernel::threadVectors
  std::set<std::string> pieceCopies;   // LoweredKernel::pieceCopies
  std::map<std::string, LoweredKernel::BlockSum> blockSums; // LoweredKernel::blockSums
  std::map<std::string, std::pair<Val, Val>> lstmForward; // gates, new c
  /// Per-coordinate values (by Func name) to be summed over the coordinates
  /// as another Func holding the same values in another layout ([.., 4,
  /// H] for [.., 4H]).
  std::map<std::string, Val> sumVia;
  /// Per maxpool_backward node whose windows do not overlap: the offset of
  /// each window's maximum (a stored stage), the window and the pooled
  /// shape.
  struct Windows {
    Val argmax;
    int k, s;
    Shape pooled;
  };
  std::map<int, Windows> windowMaxima;
  /// The maxpool_backward node (with windows that do not overlap) whose
  /// value is a factor of node `id`'s, through products of equal shapes,
  /// so that `id` is zero off its windows' maxima; -1 if none.
  int zeroOffMaxima(int id) const {
    const KernelNode &m = g.nodes[id];
    if (m.result > 0)
      return -1;
    if (m.op == "maxpool_backward")
      return windowMaxima.count(id) ? id : -1;
    if (m.op != "mul")
      return -1;
    for (int in : m.inputs)
      if (g.nodes[in].shape == m.shape)
        if (int pool = zeroOffMaxima(in); pool >= 0)
          return pool;
    return -1;
  }
  /// Reuse hints for a sum over a weight shared by all coordinates (a
  /// matrix product [coordinate, row] with the coordinates as rows). On a
  /// CPU, whose vectors run along the rows: the coordinates in blocks of
  /// up to kCoordinateBlock times all of a row's vectors (the schedule
  /// halves the block until the accumulators fit in the registers: an
  /// LSTM's pre-activations 4 x 5 vectors of 16, its input gradient 8 x 3
  /// of 8), so that each weight vector loaded serves the block's
  /// coordinates and each value broadcast a row's vectors. (Its
  /// coordinates alone, 8 accumulators a vector of rows: LLVM kept 192
  /// broadcasts of the 24 terms out of the loop over the vectors, on the
  /// stack; Omniglot 5w1s 0.89x the time of a meta-iteration, its cell's
  /// kernels 0.76x and 0.89x.) On a GPU, one thread per
  /// element: `gpuRows` rows per thread, so that each per-coordinate value
  /// loaded serves that many (the block's weights are side by side).
  std::vector<std::pair<int, int>> coordinateBlocks(bool sharedWeight,
                                                    int gpuRows) const {
    if (!mappedGraph || !sharedWeight || (forGpu && gpuRows < 2))
      return {};
    return forGpu ? std::vector<std::pair<int, int>>{{1, gpuRows}}
                  : std::vector<std::pair<int, int>>{{0, kCoordinateBlock}, {1, 0}};
  }
  /// Whether node `id` is an argument shared by all coordinates.
  bool isSharedArg(int id) const {
    for (size_t a = 0; a < g.args.size(); ++a)
      if (g.args[a] == id)
        return mappedGraph && !g.mapped[a];
    return false;
  }
  void root(Val v) {
    v.f.compute_root();
    stored.push_back({v.f, v.shape});
  }
  /// `f`'s entry in `stored` (the end where it is not stored).
  std::vector<std::pair<Func, Shape>>::const_iterator storedEntry(const Func &f) const {
    return std::find_if(stored.begin(), stored.end(),
                        [&](auto &st) { return st.first.name() == f.name(); });
  }
  bool isStored(const Func &f) const { return storedEntry(f) != stored.end(); }
  std::string name(const std::string &op) {
    return op + "_" + std::to_string(counter++);
  }
  using Body = std::function<Expr(std::vector<Expr>)>;
  /// init(idx) (or zero) + the sum over the RDom that `term` uses, in
  /// `acc`, as the stored Func `fullName` with an update definition.
  Val accumulate(const Shape &shape, const Body &init, const Body &term,
                 const std::string &fullName, Type acc) {
    std::vector<Var> vs = makeVars(shape.size());
    std::vector<Var> rev(vs.rbegin(), vs.rend());
    Func f(fullName);
    f(rev) = init ? cast(acc, init(exprs(vs))) : cast(acc, 0);
    f(rev) += cast(acc, term(exprs(vs)));
    Val v{f, shape};
    root(v);
    return v;
  }
  /// init(idx) + the sum over the RDom that `term` uses, as a stored Func
  /// with an update definition (its accumulators are the schedule's to
  /// vectorise), accumulated in double when `inDouble` (long sums, like the
  /// reference interpreter).
  Val defineSum(const Shape &shape, const Body &init, const Body &term,
                const std::string &nm, bool inDouble = false,
                std::vector<std::pair<int, int>> reuseDims = {}) {
    Val v = accumulate(shape, init, term, name(nm + (inDouble ? "_acc" : "")),
                       inDouble ? Float(64) : Float(32));
    if (!reuseDims.empty())
      reuse[v.f.name()] = reuseDims;
    if (!inDouble)
      return v;
    return define(shape, [&](std::vector<Expr> idx) {
      return cast<float>(at(v, idx));
    }, name(nm));
  }

  /// For every index of `shape`, the sum in double of term(idx, r) over
  /// `region` (r: one Expr per region dimension, innermost first), as a
  /// Func to be inlined where it is read. On a CPU one inline sum, or, over
  /// rows of at least kColumnSumTerms, a stored sum per column of the
  /// region's innermost dimension (columnSums: vectors along the rows,
  /// each row read once) and the inline sum of the columns' (one inline
  /// sum walked the region a term at a time, in scalar double: Mini-ImageNet
  /// 5w5s 0.93x the time of a meta-iteration, 5w1s 0.95x, Omniglot 0.96x;
  /// the order of the terms changes, in double). For a GPU
  /// a long sum into fewer than kFewResults results (batch-norm
  /// statistics, a bias gradient: a few channels, each over N x H x W
  /// terms; a convolution's weight gradient over its partial sums) would
  /// leave most threads idle, each walking a long chain of loads: it is
  /// taken in levels (treeSum).
  using Term = std::function<Expr(std::vector<Expr>, std::vector<Expr>)>;
  /// Whether a sum of `terms` terms into `shape` is taken in levels.
  bool inLevels(int64_t terms, const Shape &shape) const {
    return forGpu && terms > kLevelTerms && numElements(shape) < kFewResults;
  }
  /// `sideBySide`: the term reads the region's dimensions side by side
  /// (the pixels of an image, and the images), so that for a GPU each
  /// index is taken from the remainder of the next outer one: then the
  /// term's address folds back to that remainder ((z + q / e) * e + q % e
  /// -> z * e + q), and only the outermost division is left, unsigned (r
  /// is never negative): a multiply-high and a shift, not a signed floor
  /// division's corrections. Batch norm's statistics at 84x84 took 50
  /// instructions a term (PTX), 17 so. Not for a weight gradient's partial
  /// sums over columns and groups, which are not side by side: its
  /// threads' other indices folded with r's where it was split as r % W
  /// and r / W (973 instructions a thread, 1,513 the other way).
  Val longSum(const Shape &shape, const Region &region, const Term &term,
              const std::string &nm, bool sideBySide = true) {
    int64_t terms = 1;
    for (const Range &d : region)
      terms *= *Internal::as_const_int(d.extent);
    if (inLevels(terms, shape))
      return treeSum(shape, terms, Float(64), [&](std::vector<Expr> idx, Expr r) {
        std::vector<Expr> rs(region.size()); // innermost region dimension first
        if (!sideBySide) {
          for (size_t d = 0; d < region.size(); ++d) {
            int extent = int(*Internal::as_const_int(region[d].extent));
            rs[d] = d + 1 < region.size() ? r % extent : r;
            r = r / extent;
          }
          return term(idx, rs);
        }
        int64_t inner = terms;
        Expr q = r;
        for (size_t d = region.size(); d-- > 1;) {
          int extent = int(*Internal::as_const_int(region[d].extent));
          inner /= extent;
          if (d + 1 == region.size()) {
            // (Bounds promised: Halide would not see that the casts fit.)
            Expr u = cast<uint32_t>(q);
            rs[d] = unsafe_promise_clamped(
                cast<int>(u / Internal::make_const(UInt(32), inner)), 0, extent - 1);
            q = unsafe_promise_clamped(
                cast<int>(u % Internal::make_const(UInt(32), inner)), 0, int(inner) - 1);
          } else {
            rs[d] = q / int(inner);
            q = q % int(inner);
          }
        }
        rs[0] = q;
        return term(idx, rs);
      }, nm);
    int64_t inner = *Internal::as_const_int(region[0].extent);
    if (!forGpu && region.size() >= 2 && inner >= kColumnSumTerms) {
      // (Named alike in every such sum: the schedule fuses the loops of
      // sums over one region, which compute_with finds by name.)
      RDom ro(Region(region.begin() + 1, region.end()), kColumnRows);
      Shape cs = shape;
      cs.push_back(inner);
      Val cv = accumulate(cs, nullptr, [&](std::vector<Expr> idx) {
        std::vector<Expr> rs{idx.back() + region[0].min};
        idx.pop_back();
        for (int d = 0; d < ro.dimensions(); ++d)
          rs.push_back(ro[d]);
        return term(idx, rs);
      }, name(nm + "_columns"), Float(64));
      columnSums.insert(cv.f.name());
      RDom rc(0, int(inner));
      return define(shape, [&](std::vector<Expr> i) {
        return sum(at(cv, cat(i, {Expr(rc)})));
      }, name(nm));
    }
    RDom r(region);
    return define(shape, [&](std::vector<Expr> idx) {
      std::vector<Expr> rs;
      for (int d = 0; d < r.dimensions(); ++d)
        rs.push_back(r[d]);
      return sum(cast<double>(term(idx, rs)));
    }, name(nm));
  }

  /// The row-major flat index of `idx` in `shape`: a level's partial sums
  /// (treeSum, blockLevel) are one dimension, so that the schedule may
  /// launch the levels of several sums as one kernel.
  static Expr flatIndex(const Shape &shape, const std::vector<Expr> &idx) {
    Expr e = 0;
    for (size_t d = 0; d < idx.size(); ++d)
      e = e * int(shape[d]) + idx[d];
    return e;
  }
  /// The index in `shape` of the row-major flat index `flat`.
  static std::vector<Expr> unflatIndex(const Shape &shape, Expr flat) {
    std::vector<Expr> idx(shape.size());
    for (size_t d = shape.size(); d-- > 0;) {
      idx[d] = d ? flat % int(shape[d]) : flat;
      flat = flat / int(shape[d]);
    }
    return idx;
  }
  /// A level's term `t`, the r-th of `n`: zero past the last term where
  /// the level's parts cover `covered` terms, more than n.
  static Expr termOrZero(Expr t, Expr r, int64_t covered, int64_t n, Type acc) {
    return covered == n ? t : select(r < int(n), t, cast(acc, 0));
  }

  /// For a GPU: for every index of `shape`, the sum (in `acc`) of
  /// term(idx, r) over r in [0, terms), in levels, each a stored stage
  /// whose threads take a short sum each: the first of partial sums of
  /// `chunk` terms (kMinLevelTerms to kLevelTerms, a multiple of 8, as many
  /// as keep about kBusyThreads threads busy), the partial sum `part` of a
  /// result taking r = part, part + parts, part + 2 parts, ...; then sums
  /// of kLevelTerms partial sums each, until at most kLastLevelTerms are
  /// left: their sum, the last level, is returned as a Func to be inlined
  /// where it is read. Neighbouring threads take neighbouring parts of one
  /// result (neighbouring terms: where r is the innermost index of what the
  /// term reads, a batch-norm statistic's pixels), or with `resultsInner`
  /// the same part of neighbouring results (where the results are: a
  /// coordinate sum of per-coordinate values [coordinate, ...], so that a
  /// warp reads one coordinate's values side by side, not one value of 32
  /// coordinates). Into at most kBlockSumResults results (not
  /// `resultsInner`: a batch norm's statistics, a bias gradient, logits),
  /// each level is taken by blocks of threads instead (blockLevel), which
  /// leave at most kReaderTerms partial sums where a thread's kLevelTerms
  /// allow (524,288 terms a result), and one level is enough up to 2.1
  /// million (kLastLevelTerms partial sums).
  using FlatTerm = std::function<Expr(std::vector<Expr>, Expr)>;
  Val treeSum(const Shape &shape, int64_t terms, Type acc, const FlatTerm &term,
              const std::string &nm, bool resultsInner = false,
              bool oneLevel = false) {
    int64_t results = numElements(shape);
    // With `oneLevel`, at least terms / kLevelTerms, so that one level
    // leaves at most kLevelTerms partial sums to the reader (a linear
    // layer's 800 terms: 8 us a call, from 52 in one thread per logit). Not
    // for every short sum: fewer, longer chains made the cell's sums over
    // the coordinates into a few results and batch norm's statistics at
    // 10x10 slower than the extra level saved (H200, 2.7 ms a 5w5s
    // iteration, bench/results/gpu-2026-11-27-h200-final/).
    // Terms per thread of the first level, for `threadsPerPart` threads
    // per part: as many parts as keep kBusyThreads busy.
    auto firstChunk = [&](int64_t threadsPerPart) {
      int64_t busy = (terms * threadsPerPart + kBusyThreads - 1) / kBusyThreads;
      if (oneLevel)
        busy = std::max(busy, (terms + kLevelTerms - 1) / kLevelTerms);
      // Where this level is the only one, at most kReaderTerms partial
      // sums for the reader, whose loop over them is a chain of loads
      // (batch norm's backward at 10x10: 79 partial sums of 8 windows,
      // read 8 at a time in double, took 14 us a call on an H200).
      if ((terms + kMinLevelTerms - 1) / kMinLevelTerms <= kLastLevelTerms)
        busy = std::max(busy, (terms + kReaderTerms - 1) / kReaderTerms);
      int64_t chunk = std::clamp(busy, kMinLevelTerms, kLevelTerms);
      return (chunk + 7) / 8 * 8; // unrolled by 8 (GpuSchedule.cpp)
    };
    FlatTerm read = term;
    int64_t n = terms;
    // A sum over the coordinates into a matrix (an LSTM's shared weight's
    // gradient: an outer product per coordinate) takes its first level in
    // blocks of rows x columns of one part per thread, so that each
    // per-coordinate value loaded serves the block.
    int64_t blockRows = 1, blockCols = 1;
    if (resultsInner && shape.size() == 2) {
      blockRows = largestDivisor(shape[0], kSumBlockRows);
      blockCols = largestDivisor(shape[1], kSumBlockColumns);
    }
    int firstLevel = 1;
    if (blockRows > 1 && blockCols > 1 && n > kLastLevelTerms) {
      int64_t per = firstChunk(results / (blockRows * blockCols));
      int64_t parts = (n + per - 1) / per;
      RDom u(0, int(per), "u");
      std::vector<Var> vs = makeVars(3); // part, row, column
      std::vector<Var> rev(vs.rbegin(), vs.rend());
      Expr r = u * int(parts) + vs[0];
      Expr t = cast(acc, read({vs[1], vs[2]}, min(r, int(n) - 1)));
      Func f(name(nm + "_l1"));
      f(rev) = cast(acc, 0);
      f(rev) += termOrZero(t, r, parts * per, n, acc);
      Val partial{f, {parts, shape[0], shape[1]}};
      root(partial);
      reuse[f.name()] = {{1, int(blockRows)}, {2, int(blockCols)}};
      read = [partial](std::vector<Expr> idx, Expr r) {
        return at(partial, {r, idx[0], idx[1]});
      };
      n = parts;
      firstLevel = 2;
    }
    for (int level = firstLevel; n > kLastLevelTerms; ++level) {
      if (!resultsInner && results <= kBlockSumResults) {
        n = blockLevel(read, shape, n, acc, nm + "_l" + std::to_string(level));
        continue;
      }
      int64_t per = level == 1 ? firstChunk(results) : kLevelTerms;
      int64_t parts = (n + per - 1) / per;
      RDom u(0, int(per), "u");
      std::vector<Var> p = makeVars(1);
      std::vector<Expr> idx = unflatIndex(
          shape, resultsInner ? p[0] % int(results) : p[0] / int(parts));
      Expr part = resultsInner ? p[0] / int(results) : p[0] % int(parts);
      Expr r = u * int(parts) + part;
      Expr t = cast(acc, read(idx, min(r, int(n) - 1)));
      // An update definition: the schedule keeps its accumulator in a
      // register and unrolls its loop.
      Func f(name(nm + "_l" + std::to_string(level)));
      f(p) = cast(acc, 0);
      f(p) += termOrZero(t, r, parts * per, n, acc);
      Val partial{f, {results * parts}};
      root(partial);
      read = [partial, parts, results, resultsInner, shape](std::vector<Expr> idx, Expr r) {
        Expr flat = flatIndex(shape, idx);
        return at(partial, {resultsInner ? r * int(results) + flat : flat * int(parts) + r});
      };
      n = parts;
    }
    RDom u(0, int(n), "u");
    return define(shape, [&](std::vector<Expr> idx) {
      return sum(cast(acc, read(idx, Expr(u))));
    }, name(nm));
  }

  /// A level of treeSum (not `resultsInner`) taken by blocks of
  /// kBlockSumThreads threads (LoweredKernel::blockSums): for every index
  /// of `shape`, the partial sums of `parts` spans of `n` terms (read(idx,
  /// r)), each span a block's: its threads take `per` terms each (thread t
  /// the terms t, t + kBlockSumThreads, ...: neighbouring threads read
  /// neighbouring terms), then groups of kBlockGroup threads' partial sums
  /// are added, then the groups'. `per` (8 to kLevelTerms, a multiple of
  /// 8) is the fewest that leave at most kReaderTerms partial sums. Where
  /// each thread of a level took its own partial sum (kLevelTerms terms
  /// at most), a sum over N x H x W terms took two or three levels of
  /// launches and a reader summing up to 128 partial sums: on an H200
  /// (5w5s, 2026-11-28), batch norm's statistics at 10x10 took 3.2 us for
  /// the first level, 7.3 for the second (one block of 160 threads, each 64
  /// loads in a chain) and 2.9 for the reader. Replaces `read` by the
  /// level's partial sums and returns `parts`.
  int64_t blockLevel(FlatTerm &read, const Shape &shape, int64_t n, Type acc,
                     const std::string &nm) {
    const int64_t threads = kBlockSumThreads;
    int64_t per = (n + threads * kReaderTerms - 1) / (threads * kReaderTerms);
    per = (std::clamp(per, kMinLevelTerms, kLevelTerms) + 7) / 8 * 8;
    int64_t span = threads * per;
    int64_t parts = (n + span - 1) / span;
    int64_t results = numElements(shape);
    Var t("t"), grp("g"), p("p");
    std::vector<Expr> idx = unflatIndex(shape, p / int(parts));
    RDom u(0, int(per), "u");
    Expr r = (p % int(parts)) * int(span) + u * int(threads) + t;
    Expr term = cast(acc, read(idx, min(r, int(n) - 1)));
    Func terms(name(nm + "_terms")), perThread(name(nm + "_threads"));
    terms(t, p) = cast(acc, 0);
    terms(t, p) += termOrZero(term, r, parts * span, n, acc);
    perThread(t, p) = terms(t, p);
    Func perGroup(name(nm + "_groups"));
    Expr group = perThread(grp * int(kBlockGroup), p);
    for (int j = 1; j < kBlockGroup; ++j)
      group = group + perThread(grp * int(kBlockGroup) + j, p);
    perGroup(grp, p) = group;
    RDom s(0, int(threads / kBlockGroup), "s");
    Func f(name(nm));
    f(p) = cast(acc, 0);
    f(p) += perGroup(s, p);
    Val partial{f, {results * parts}};
    root(partial);
    blockSums[f.name()] = {terms, perThread, perGroup};
    read = [partial, parts, shape](std::vector<Expr> idx, Expr r) {
      return at(partial, {flatIndex(shape, idx) * int(parts) + r});
    };
    return parts;
  }

  /// A convolution's weight gradient for a GPU: the CPU's partial sums per
  /// output column (one thread each, 2 loads per multiply-add, each a
  /// chain of N x rows terms) leave the threads waiting on loads. Here
  /// each thread computes a block of 4 output channels x the window (36
  /// sums at 3x3, from 4 + 9 loads per term) for one input channel,
  /// output column and group of images; the groups are as few as keep
  /// kBusyThreads / 2 threads busy. Then the partial sums over the groups
  /// and columns, in double (longSum).
  Val gpuFilterGradient(const Val &dy, const Val &xp, int s, const Shape &out) {
    // Every input channel's threads read all of dy: where it is computed
    // in this kernel (a fused batch norm's backward), it is stored first,
    // even where cheap to recompute (keptStored), not computed again by
    // each of them. (Inlined, the first layer's weight gradient took 0.54
    // ms a call on an H200, 2026-11-28: each thread computed 4 channels of
    // dy for each of its 84 rows, then 36 products, each with a division
    // of the batch norm's backward that Halide moved past the product.)
    if (!argNames.count(dy.f.name())) {
      if (!isStored(dy.f))
        root(dy);
      keptStored.insert(dy.f.name());
    }
    Shape ds = dy.shape;
    int64_t N = ds[0], Co = out[0];
    int64_t blockCo = Co % 4 == 0 ? 4 : 1;
    int64_t threadsPerGroup = Co / blockCo * out[1] * ds[3];
    int64_t groups = N;
    for (int64_t g = 1; g <= N; ++g)
      if (N % g == 0 && threadsPerGroup * g >= kBusyThreads / 2) {
        groups = g;
        break;
      }
    int per = int(N / groups);
    RDom r(0, int(ds[2]), 0, per); // y, image in the group
    // [Co, groups, KH, KW, Ci, Wo]: the threads of neighbouring input
    // channels are neighbours (a block of 256 takes its output columns
    // for about 6 input channels, at 42 columns), so that a block's threads
    // of one column and several input channels load the same dy, through
    // the SM's cache: with the input channel outermost but for the output
    // channels, every input channel's threads were in blocks of their own
    // and loaded all of dy from L2 (32 times dy, 180 MB at 42x42 in a 5w5s
    // batch, where the forward convolution's threads load 8 times x).
    Shape rows = {out[0], groups, out[2], out[3], out[1], ds[3]};
    // The window whole where it is at most 3x3; a wider one by its columns
    // only (where at most 9), so that a thread's sums stay in registers.
    std::vector<std::pair<int, int>> blocks;
    if (out[2] * out[3] <= 9)
      blocks.push_back({2, int(out[2])});
    if (out[3] <= 9)
      blocks.push_back({3, int(out[3])});
    if (blockCo > 1)
      blocks.push_back({0, int(blockCo)});
    Val partial = defineSum(rows, nullptr, [&](std::vector<Expr> idx) {
      Expr img = idx[1] * per + r.y;
      return at(dy, {img, idx[0], r.x, idx[5]}) *
             at(xp, {img, idx[4], r.x * s + idx[2], idx[5] * s + idx[3]});
    }, "conv2d_dw_columns", false, blocks);
    // (In levels where the results are few: a first layer's 864 weights
    // over 25 groups x 84 columns took 0.21 ms in one.)
    Region columns = {Range(0, int(ds[3])), Range(0, int(groups))};
    Val total = longSum(out, columns, [&](std::vector<Expr> idx, std::vector<Expr> r) {
      return at(partial, {idx[0], r[1], idx[2], idx[3], idx[1], r[0]});
    }, "conv2d_backward_filter_f64", false);
    return define(out, [&](std::vector<Expr> idx) {
      return cast<float>(at(total, idx));
    }, name("conv2d_backward_filter"));
  }

  /// A convolution's reuse hints: blocks of output channels share each
  /// input load, and blocks of output rows each weight load (and the input
  /// rows they both read). On a CPU, 4 channels and 4, 3 or 2 rows (the
  /// first that divides): at 42x42, 3 rows take 15 input loads and 36
  /// weight broadcasts a channel of the sum for 108 multiply-adds, where 2
  /// took 12 and 36 for 72. But 2 where the sum's `terms` are unrolled
  /// whole (kUnrolledTerms: a first layer's 27), whose 4-row tiles LLVM
  /// spilled. On a GPU (whose schedule blocks a dimension by the
  /// largest divisor up to its hint), the largest block of up to 4 channels
  /// x 3 rows that leaves kBusyThreads / 2 threads: 3 rows take 0.47 loads
  /// per multiply-add (a thread's 36 weight loads per input channel
  /// outnumber its input loads) where 2 take 0.67 and one 1.25, but fewer
  /// threads hide less of the loads' latency. Blocked 4 x 3 everywhere, the
  /// layers ran on an H200 (2026-11-28, 5w5s) at 14 TFLOP/s at 42x42
  /// (117,600 threads), 7 at 21x21 (29,400) and 1.7 at 10x10 (10,000);
  /// the 5-image batches of 5w1s at 5.3 (42x42, 23,520) and 1.4 (21x21,
  /// 5,880): the threads, not the loads per multiply-add, set the speed.
  std::vector<std::pair<int, int>> channelBlock(const Shape &out, int64_t terms) const {
    int64_t channels = out[1], rows = out[2];
    if (!forGpu) {
      std::vector<std::pair<int, int>> blocks;
      if (channels % 4 == 0)
        blocks.push_back({1, 4});
      if (int64_t r = largestDivisor(rows, terms > kUnrolledTerms ? 4 : 2); r > 1)
        blocks.push_back({2, int(r)});
      return blocks;
    }
    int64_t best = 1, bestChannels = 1, bestRows = 1;
    for (int64_t c : {4, 2, 1})
      for (int64_t r : {3, 2, 1})
        if (channels % c == 0 && rows % r == 0 && c * r > best &&
            numElements(out) / (c * r) >= kBusyThreads / 2) {
          best = c * r;
          bestChannels = c;
          bestRows = r;
        }
    std::vector<std::pair<int, int>> blocks;
    if (bestChannels > 1)
      blocks.push_back({1, int(bestChannels)});
    if (bestRows > 1)
      blocks.push_back({2, int(bestRows)});
    return blocks;
  }

  /// The widest CPU vectors' floats (AVX-512).
  static constexpr int64_t kCpuLanes = 16;
  /// On a CPU, a convolution's sum (one with reuse hints) whose rows are
  /// wider than two vectors and not whole ones (42, 84 columns), as a
  /// result: copied out (LoweredKernel::copiedSums), so that the schedule
  /// takes it a tile of the copy at a time, every vector whole (the last
  /// shifted inwards) and its accumulators in registers for the whole
  /// reduction. Summed in place, the last vector of a row was guarded: its
  /// accumulators were loaded and stored (predicated) around every
  /// multiply-add, a first layer's 27 of them (4 of 84 columns took 40% of
  /// its time); and the initial values were a pass over the result of
  /// their own, the sum's another that read them back.
  bool copiedCpuSum(const Val &v) const {
    return v.f.has_update_definition() && reuse.count(v.f.name()) &&
           v.shape.size() == 4 && v.shape.back() > 2 * kCpuLanes &&
           v.shape.back() % kCpuLanes != 0;
  }
  /// On a CPU, a row of `width` values narrower than two vectors and not
  /// whole vectors (21, 10 or 7 pixels): vectors along it end in a partial
  /// one, whose loads and stores are predicated and whose accumulators
  /// leave the registers.
  bool narrowRow(int64_t width) const {
    return !forGpu && width < 2 * kCpuLanes && width % kCpuLanes != 0;
  }

  /// On a CPU, a convolution (or its input gradient) whose output rows are
  /// narrow (narrowRow), whose channels fill whole vectors and whose sum
  /// has at least kChannelsInnerTerms terms is summed with its channels
  /// innermost, [N, H, W, C]: vectors along the channels, a block of
  /// outputs unrolled (up to 14 columns that divide the row, times 2 rows),
  /// each weight vector serving them all. (Its copy back to [N, C, H, W]
  /// gathers a vector from 16 channels: Omniglot's first layer, 1 input
  /// channel, 9 terms an output, spent most of its time there.)
  bool channelsInner(const Shape &out, int64_t terms) const {
    return narrowRow(out[3]) && out[1] % kCpuLanes == 0 && terms >= kChannelsInnerTerms;
  }
  /// A convolution's sum over (kx, ky, the other channel) = (r.x, r.y, r.z)
  /// with its channels innermost, from `term(n, c, h, w)` (its weight read
  /// as weight(c, r), below), copied back to `out`'s [N, C, H, W] as `nm`.
  /// The weight [Co, Ci, KH, KW] is laid out with the output's channel
  /// innermost (`wc`: which of its dimensions that is), so that a vector
  /// of channels loads contiguously.
  Val channelsInnerSum(const Shape &out, const Val &w, int wc, const RDom &r,
                       const Body &init,
                       const std::function<Expr(std::vector<Expr>, Expr)> &term,
                       const std::string &nm) {
    const Shape &ws = w.shape;
    int other = 1 - wc;
    Val wt = define({ws[other], ws[2], ws[3], ws[wc]}, [&](std::vector<Expr> i) {
      std::vector<Expr> wi(4);
      wi[other] = i[0];
      wi[wc] = i[3];
      wi[2] = i[1];
      wi[3] = i[2];
      return at(w, wi);
    }, name(nm + "_wt"));
    root(wt);
    // [N, H, W, C] -> [N, C, H, W]
    auto nchw = [](std::vector<Expr> i) { return std::vector<Expr>{i[0], i[3], i[1], i[2]}; };
    Body initNhwc;
    if (init)
      initNhwc = [&](std::vector<Expr> i) { return init(nchw(i)); };
    Val sum = defineSum({out[0], out[2], out[3], out[1]}, initNhwc, [&](std::vector<Expr> i) {
      return term(nchw(i), at(wt, {r.z, r.y, r.x, i[3]}));
    }, nm + "_nhwc", false, {{2, int(largestDivisor(out[3], 14))}, {1, 2}});
    return define(out, [&](std::vector<Expr> i) {
      return at(sum, {i[0], i[2], i[3], i[1]});
    }, name(nm));
  }

  /// The zeros needed after `in` rows so that `windows` windows of `kernel`
  /// rows, at stride `s` and starting `p` rows before the input, stay in.
  static int padAfter(int64_t windows, int64_t kernel, int s, int p,
                      int64_t in) {
    return std::max<int>(0, int((windows - 1) * s + kernel - 1 - p - (in - 1)));
  }

  /// `x` ([N, C, H, W]) with `before` zeros above and left of its images
  /// and `after` below and right, stored: the convolutions read it without
  /// bounds tests.
  /// (before/after per spatial dimension: {rows, columns}.)
  Val padded(const Val &x, std::array<int, 2> before, std::array<int, 2> after) {
    Shape ps = x.shape;
    ps[2] += before[0] + after[0];
    ps[3] += before[1] + after[1];
    int H = int(x.shape[2]), W = int(x.shape[3]);
    Val v = define(ps, [&](std::vector<Expr> idx) {
      Expr yy = idx[2] - before[0], xx = idx[3] - before[1];
      Expr inside = yy >= 0 && yy < H && xx >= 0 && xx < W;
      return select(inside,
                    at(x, {idx[0], idx[1], clamp(yy, 0, H - 1), clamp(xx, 0, W - 1)}),
                    0.0f);
    }, name("pad"));
    root(v);
    return v;
  }

  /// Node `id`'s value (zero off the windows' maxima of maxpool_backward
  /// node `pool`: zeroOffMaxima) at `pixel`, the maximum of `window`: the
  /// gradient reaching that window, read where it lies, times the other
  /// factors at the pixel. Read through the backward's own definition, the
  /// pixel's window and its test against the window's maximum were
  /// computed again from the pixel (Halide does not see them cancel):
  /// gathers of both. Undefined where a factor's shape differs.
  Expr atMaximum(int id, int pool, const std::vector<Expr> &pixel,
                 const std::vector<Expr> &window) {
    const KernelNode &m = g.nodes[id];
    if (id == pool)
      return at(in(m, 1), window);
    Expr e;
    bool followed = false;
    for (size_t i = 0; i < m.inputs.size(); ++i) {
      if (g.nodes[m.inputs[i]].shape != m.shape)
        return Expr();
      Expr f;
      if (!followed && zeroOffMaxima(m.inputs[i]) == pool) {
        f = atMaximum(m.inputs[i], pool, pixel, window);
        followed = true;
      } else {
        f = at(in(m, i), pixel);
      }
      if (!f.defined())
        return Expr();
      e = e.defined() ? e * f : f;
    }
    return e;
  }

  Val in(const KernelNode &n, size_t i) {
    int id = n.inputs[i];
    const KernelNode &src = g.nodes[id];
    if (src.result > 0)
      return values[src.of][src.result];
    return values[id][0];
  }
};

/// Declares a buffer's static row-major shape (dense, innermost first).
template <typename B> void constrain(B buffer, const Shape &shape) {
  int stride = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    int extent = int(shape[shape.size() - 1 - d]);
    buffer.dim(int(d)).set_bounds(0, extent).set_stride(stride);
    stride *= extent;
  }
}

bool Lowering::lower(LoweredKernel &out, std::string &error) {
  std::vector<ImageParam> &params = out.params;
  std::vector<Func> &outs = out.outputs;
  for (size_t a = 0; a < g.args.size(); ++a) {
    const KernelNode &n = g.nodes[g.args[a]];
    bool isMapped = !mappedGraph || g.mapped[a];
    Shape s = isMapped ? full(n) : n.shape;
    // For a GPU, a scalar is a buffer of one element (deviceShape).
    ImageParam p(n.isInt ? Int(32) : Float(32), int(deviceShape(s).size()),
                 "arg" + std::to_string(a));
    constrain(p, deviceShape(s));
    params.push_back(p);
    Val v{Func(p), s};
    if (s.empty() && forGpu)
      v = define(s, [&](std::vector<Expr>) { return p(0); }, name("scalar"));
    argNames.insert(v.f.name());
    if (mappedGraph && !isMapped) { // shared: the same value at every k
      Val value = v;
      v = define(full(n),
                 [&](std::vector<Expr> idx) { return at(value, local(idx)); },
                 name("shared"));
    }
    values[g.args[a]] = {v};
  }
  for (size_t id = 0; id < g.nodes.size(); ++id)
    if (!values.count(int(id)) && g.nodes[id].result == 0 &&
        !lowerNode(int(id), error))
      return false;
  // On a CPU, a mapped kernel with a per-coordinate result runs its
  // per-coordinate stages tile by tile (CpuSchedule.cpp).
  out.coordinateTiles = perCoordinateResult && !forGpu;
  // On a GPU, such a kernel runs a thread per coordinate (GpuSchedule.cpp).
  out.coordinateThreads = perCoordinateResult && forGpu;
  for (size_t r = 0; r < g.results.size(); ++r) {
    const KernelNode &n = g.nodes[g.results[r]];
    Val v = n.result > 0 ? values[n.of][n.result] : values[g.results[r]][0];
    // Whether nothing in the kernel but this result reads the value.
    bool readOnlyHere = n.result > 0 ? readers(n.of, n.result).first.empty()
                                     : readers(g.results[r], 0).first.empty();
    if (mappedGraph && g.reduced[r]) {
      readOnlyHere = true; // the sum made here
      // Summed over the coordinates, into its own buffer (an update
      // definition the schedule vectorises). For a GPU, in levels
      // (treeSum).
      Shape inner(v.shape.begin() + 1, v.shape.end());
      if (forGpu && g.coords > kLevelTerms) {
        Val perCoordinate = v;
        v = treeSum(inner, g.coords, Float(32), [&](std::vector<Expr> idx, Expr k) {
          return at(perCoordinate, cat({k}, idx));
        }, "reduce_coords", /*resultsInner=*/true);
      } else {
        // The values summed: v, or the same values in another layout.
        auto via = sumVia.find(v.f.name());
        Val terms = via != sumVia.end() ? via->second : v;
        Shape termShape(terms.shape.begin() + 1, terms.shape.end());
        std::vector<Var> vs = makeVars(termShape.size());
        std::vector<Var> rev(vs.rbegin(), vs.rend());
        Func red(name("reduce_coords"));
        red(rev) = 0.0f;
        if (out.coordinateTiles) {
          // Each tile's sum in the tiles' loop, then the tiles' sums.
          Val tileSum = sumOfEachTile(terms);
          out.tileSums.insert(tileSum.f.name());
          RDom t(0, int(tileSum.shape.front()), "t");
          red(rev) += at(tileSum, cat({Expr(t)}, exprs(vs)));
        } else {
          RDom k(0, int(g.coords), "k");
          red(rev) += at(terms, cat({Expr(k)}, exprs(vs)));
        }
        v = {red, termShape};
        out.coordinateSums.insert(red.name());
        if (via != sumVia.end()) {
          // [.., 4, H] -> [.., 4H].
          root(v);
          Val sum4 = v;
          int64_t H = termShape.back();
          v = define(inner, [&](std::vector<Expr> idx) {
            Expr row = idx.back();
            idx.pop_back();
            return at(sum4, cat(idx, {row / int(H), row % int(H)}));
          }, name("lstm_db_rows"));
        }
      }
    }
    // An output must be a Func of its own (not an argument, nor another
    // output; nor a sum where the schedule keeps sums in registers; nor,
    // for a GPU, a scalar: it is copied into a buffer of one element).
    // (A per-coordinate output of a kernel run a thread per coordinate is
    // copied below, copyPerCoordinateOutputs.)
    // On a CPU, a convolution's sum whose rows are not whole vectors is
    // also copied (below, copiedCpuSum).
    bool cpuCopy = !forGpu && readOnlyHere && copiedCpuSum(v);
    if ((forGpu && (v.shape.empty() ||
                    (v.f.has_update_definition() &&
                     !(out.coordinateThreads && !g.reduced[r])))) ||
        cpuCopy ||
        std::find_if(params.begin(), params.end(), [&](const ImageParam &p) {
          return p.name() == v.f.name();
        }) != params.end() ||
        std::find_if(outs.begin(), outs.end(), [&](const Func &o) {
          return o.name() == v.f.name();
        }) != outs.end()) {
      Val vv = v;
      // A scalar stored only to be this result: computed in the copy's
      // thread instead (a loss's mean over the rows, one launch, not two).
      auto entry = storedEntry(vv.f);
      if (forGpu && vv.shape.empty() && readOnlyHere &&
          !vv.f.has_update_definition() && entry != stored.end()) {
        vv.f.compute_inline();
        stored.erase(entry);
      }
      v = define(deviceShape(vv.shape), [&](std::vector<Expr> idx) {
        return at(vv, vv.shape.empty() ? std::vector<Expr>{} : idx);
      }, name("copy"));
      if (vv.f.has_update_definition()) {
        if (!isStored(vv.f))
          root(vv); // a coordinate sum, now a stage of its own
        // A sum the copy alone reads can be computed in the copy's loop.
        bool claimed = false;
        for (auto it = out.copiedSums.begin(); it != out.copiedSums.end();)
          if (it->second == vv.f.name()) {
            it = out.copiedSums.erase(it);
            claimed = true;
          } else {
            ++it;
          }
        if (readOnlyHere && !claimed && (forGpu || cpuCopy))
          out.copiedSums[v.f.name()] = vv.f.name();
      }
    }
    constrain(v.f.output_buffer(), v.shape);
    outs.push_back(v.f);
    out.stages.push_back({v.f, v.shape});
  }
  if (out.coordinateTiles || out.coordinateThreads)
    copyPerCoordinateOutputs(out);
  out.reuse = reuse;
  out.columnSums = columnSums;
  out.reductionChunks = reductionChunks;
  out.reductionUnroll = reductionUnroll;
  out.keptStored = keptStored;
  out.threadVectors = threadVectors;
  out.pieceCopies = pieceCopies;
  out.blockSums = blockSums;
  // Each stored Func once (outputs included).
  for (auto &[f, shape] : stored)
    if (std::find_if(out.stages.begin(), out.stages.end(), [&](auto &st) {
          return st.first.name() == f.name();
        }) == out.stages.end())
      out.stages.push_back({f, shape});
  return true;
}


Val Lowering::sumOfEachTile(const Val &terms) {
  // [tile, ..]: its tile dimension is named `coord`, like the outputs'
  // coordinates, for its loop is theirs.
  Shape inner(terms.shape.begin() + 1, terms.shape.end());
  int64_t tiles = (g.coords + kCoordinateTile - 1) / kCoordinateTile;
  std::vector<Var> vs = makeVars(inner.size());
  Var tile("coord");
  std::vector<Var> rev(vs.rbegin(), vs.rend());
  rev.push_back(tile);
  RDom r(0, int(kCoordinateTile), "r");
  Expr k = tile * int(kCoordinateTile) + r; // the coordinate
  Expr term = at(terms, cat({min(k, int(g.coords - 1))}, exprs(vs)));
  Func f(name("tile_sums"));
  f(rev) = 0.0f;
  f(rev) += g.coords % kCoordinateTile ? select(k < int(g.coords), term, 0.0f) : term;
  Shape shape = inner;
  shape.insert(shape.begin(), tiles);
  Val v{f, shape};
  root(v);
  return v;
}

void Lowering::copyPerCoordinateOutputs(LoweredKernel &out) {
  // The outputs' loops are one loop (Halide's compute_with): so no output
  // may read another (through any stage) nor be a sum (whose accumulators
  // the schedule places), and the loops fused must have the same names.
  // Each per-coordinate output is a stage of the tile (of the coordinate's
  // thread on a GPU), copied into an output Func whose coordinate
  // dimension is named `coord`.
  for (size_t r = 0; r < out.outputs.size(); ++r) {
    if (g.reduced[r])
      continue; // a sum of the tiles' sums, after their loop
    Func &o = out.outputs[r];
    auto st = std::find_if(out.stages.begin(), out.stages.end(),
                           [&](auto &s) { return s.first.name() == o.name(); });
    Val orig{o, st->second};
    std::vector<Var> vs = makeVars(orig.shape.size());
    vs.front() = Var("coord");
    Func copy(name("copy"));
    copy(std::vector<Var>(vs.rbegin(), vs.rend())) = at(orig, exprs(vs));
    constrain(copy.output_buffer(), orig.shape);
    out.tiled.insert(copy.name());
    o = copy;
    out.stages.push_back({copy, orig.shape});
  }
}

bool Lowering::lowerNode(int id, std::string &error) {
  std::vector<Val> r = lowerOp(g.nodes[id], error);
  if (r.empty())
    return false;
  for (size_t i = 0; i < r.size(); ++i)
    if (!onlySummedOverCoords(id, int(i)) && !fusedIntoConsumer(id, int(i)))
      root(r[i]);
  values[id] = std::move(r);
  return true;
}

std::vector<Val> Lowering::lowerOp(const KernelNode &n, std::string &error) {
  const std::string &op = n.op;
  Shape out = full(n);
  auto unary = [&](std::function<Expr(Expr)> fn) {
    Val x = in(n, 0);
    return std::vector<Val>{
        define(out, [&](std::vector<Expr> idx) { return fn(at(x, idx)); }, name(op))};
  };
  // Elementwise binary with scalar broadcast: a lower-rank operand is a
  // per-coordinate scalar and takes the leading (coordinate) indices.
  auto binary = [&](std::function<Expr(Expr, Expr)> fn) {
    Val a = in(n, 0), b = in(n, 1);
    return std::vector<Val>{define(out, [&](std::vector<Expr> idx) {
      auto pick = [&](const Val &v) {
        return at(v, std::vector<Expr>(idx.begin(), idx.begin() + v.shape.size()));
      };
      return fn(pick(a), pick(b));
    }, name(op))};
  };
  auto num = [&](const char *k) { return float(n.num.at(k)); };
  // Dimension lists and offsets speak of one coordinate; in a mapped graph
  // the coordinate is dimension 0 of every value.
  auto ints = [&](const char *k) {
    std::vector<int64_t> v = n.ints.at(k);
    if (!mappedGraph)
      return v;
    bool isOffsets = std::string(k) == "offsets";
    for (int64_t &d : v)
      d += isOffsets ? 0 : 1;
    if (isOffsets || n.op == "broadcast")
      v.insert(v.begin(), 0);
    return v;
  };

  if (op == "constant")
    return {define(out, [&](std::vector<Expr>) { return Expr(num("value")); }, name(op))};
  if (op == "neg") return unary([](Expr x) { return -x; });
  if (op == "relu") return unary([](Expr x) { return max(x, 0.0f); });
  if (op == "sigmoid") return unary([&](Expr x) { return gates.sigmoid(x); });
  if (op == "tanh") return unary([&](Expr x) { return gates.tanh(x); });
  if (op == "exp") return unary([](Expr x) { return exp(x); });
  if (op == "log") return unary([](Expr x) { return log(x); });
  if (op == "abs") return unary([](Expr x) { return abs(x); });
  if (op == "sqrt") return unary([](Expr x) { return sqrt(x); });
  if (op == "sign")
    return unary([](Expr x) { return select(x > 0, 1.0f, select(x < 0, -1.0f, 0.0f)); });
  if (op == "square") return unary([](Expr x) { return x * x; });
  if (op == "step") return unary([](Expr x) { return select(x > 0, 1.0f, 0.0f); });
  if (op == "stop_gradient") return unary([](Expr x) { return x; });
  if (op == "add") return binary([](Expr a, Expr b) { return a + b; });
  if (op == "sub") return binary([](Expr a, Expr b) { return a - b; });
  if (op == "mul") return binary([](Expr a, Expr b) { return a * b; });
  if (op == "div") return binary([](Expr a, Expr b) { return a / b; });
  if (op == "pow") return binary([](Expr a, Expr b) { return pow(a, b); });
  // std::min / std::max: the first operand on ties.
  if (op == "min") return binary([](Expr a, Expr b) { return select(b < a, b, a); });
  if (op == "max") return binary([](Expr a, Expr b) { return select(a < b, b, a); });

  if (op == "reshape" || op == "flatten") {
    // Same row-major element order: linearise, then split; in a mapped
    // graph, each coordinate's elements (its index stays as it is, so that
    // a tile of coordinates reads that tile).
    Val x = in(n, 0);
    size_t first = mappedGraph ? 1 : 0;
    return {define(out, [&](std::vector<Expr> idx) {
      Expr lin = 0;
      for (size_t d = first; d < out.size(); ++d)
        lin = lin * int(out[d]) + idx[d];
      std::vector<Expr> src(x.shape.size());
      for (size_t d = x.shape.size(); d-- > first;) {
        src[d] = lin % int(x.shape[d]);
        lin = lin / int(x.shape[d]);
      }
      if (mappedGraph)
        src[0] = idx[0];
      return at(x, src);
    }, name(op))};
  }
  if (op == "slice" || op == "unslice") {
    Val x = in(n, 0);
    std::vector<int64_t> off = ints("offsets");
    if (op == "slice")
      return {define(out, [&](std::vector<Expr> idx) {
        for (size_t d = 0; d < idx.size(); ++d)
          idx[d] = idx[d] + int(off[d]);
        return at(x, idx);
      }, name(op))};
    return {define(out, [&](std::vector<Expr> idx) {
      Expr inside = Internal::const_true();
      std::vector<Expr> src;
      for (size_t d = 0; d < idx.size(); ++d) {
        Expr s = idx[d] - int(off[d]);
        inside = inside && s >= 0 && s < int(x.shape[d]);
        src.push_back(clamp(s, 0, int(x.shape[d]) - 1));
      }
      return select(inside, at(x, src), 0.0f);
    }, name(op))};
  }
  if (op == "reduce_sum" || op == "broadcast") {
    Val x = in(n, 0);
    std::vector<int64_t> dims = ints("dims");
    if (op == "broadcast")
      return {define(out, [&](std::vector<Expr> idx) {
        std::vector<Expr> src;
        for (int64_t d : dims)
          src.push_back(idx[d]);
        return at(x, src);
      }, name(op))};
    // A sum over the pixels of a value that is zero but at its max-pooling
    // windows' maxima (a batch-norm backward's sums of the gradient reaching
    // a pooled layer, times anything) takes one term per window, at its
    // maximum: a quarter of the terms for 2 x 2 windows.
    auto reduced = [&](int64_t d) {
      return std::find(dims.begin(), dims.end(), d) != dims.end();
    };
    int pool = mappedGraph || x.shape.size() != 4 || !reduced(2) || !reduced(3)
                   ? -1
                   : zeroOffMaxima(n.inputs[0]);
    const Windows *win = pool >= 0 ? &windowMaxima.at(pool) : nullptr;
    // The RDom's first dimension is its innermost loop: the innermost
    // reduced tensor dimension, so the sum walks memory in order.
    Region region;
    for (size_t j = dims.size(); j-- > 0;)
      region.push_back(Range(0, int(win && dims[j] >= 2 ? win->pooled[dims[j]]
                                                         : x.shape[dims[j]])));
    if (region.empty())
      return {define(out, [&](std::vector<Expr> idx) { return at(x, idx); }, name(op))};
    // Long sums accumulate in double, like the reference interpreter.
    Val total = longSum(out, region, [&](std::vector<Expr> idx,
                                         std::vector<Expr> r) {
      std::vector<Expr> src;
      size_t kept = 0, red = 0;
      for (size_t d = 0; d < x.shape.size(); ++d)
        src.push_back(reduced(int64_t(d)) ? r[dims.size() - 1 - red++]
                                          : idx[kept++]);
      if (!win)
        return at(x, src);
      // src[2], src[3]: a window; the pixel of its maximum.
      std::vector<Expr> window = src;
      Expr a = clamp(cast<int>(at(win->argmax, src)), 0, win->k * win->k - 1);
      src[2] = src[2] * win->s + a / win->k;
      src[3] = src[3] * win->s + a % win->k;
      Expr e = atMaximum(n.inputs[0], pool, src, window);
      return e.defined() ? e : at(x, src);
    }, op + "_f64");
    return {define(out, [&](std::vector<Expr> idx) {
      return cast<float>(at(total, idx));
    }, name(op))};
  }
  if (op == "matmul") {
    Val a = in(n, 0), b = in(n, 1);
    bool ta = n.num.at("transpose_a") != 0, tb = n.num.at("transpose_b") != 0;
    int64_t kdim = ta ? a.shape[0] : a.shape[1];
    RDom r(0, int(kdim));
    return {defineSum(out, nullptr, [&](std::vector<Expr> idx) {
      Expr av = ta ? at(a, {r, idx[0]}) : at(a, {idx[0], r});
      Expr bv = tb ? at(b, {idx[1], r}) : at(b, {r, idx[1]});
      return av * bv;
    }, op)};
  }
  if (op == "linear") {
    Val x = in(n, 0), w = in(n, 1), b = in(n, 2);
    int64_t K = x.shape[1];
    // For a GPU, a few logits over hundreds of features in levels: one
    // thread per logit walked the 800 features (52 us on an H200).
    if (inLevels(K, out)) {
      Val total = treeSum(out, K, Float(32), [&](std::vector<Expr> idx, Expr r) {
        return at(x, {idx[0], r}) * at(w, {idx[1], r});
      }, op + "_sum", /*resultsInner=*/false, /*oneLevel=*/true);
      return {define(out, [&](std::vector<Expr> idx) {
        return at(b, {idx[1]}) + at(total, idx);
      }, name(op))};
    }
    RDom r(0, int(K));
    return {defineSum(out, [&](std::vector<Expr> idx) { return at(b, {idx[1]}); },
                      [&](std::vector<Expr> idx) {
                        return at(x, {idx[0], r}) * at(w, {idx[1], r});
                      }, op)};
  }
  if (op == "logsumexp") {
    Val x = in(n, 0);
    RDom r(0, int(x.shape[1]));
    Val m = define(out, [&](std::vector<Expr> idx) {
      return maximum(at(x, {idx[0], r}));
    }, name("rowmax"));
    root(m);
    return {define(out, [&](std::vector<Expr> idx) {
      Expr mx = at(m, {idx[0]});
      return mx + log(sum(exp(at(x, {idx[0], r}) - mx)));
    }, name(op))};
  }
  if (op == "one_hot") {
    Val l = in(n, 0);
    return {define(out, [&](std::vector<Expr> idx) {
      return select(at(l, {idx[0]}) == idx[1], 1.0f, 0.0f);
    }, name(op))};
  }
  if (op == "cross_entropy") {
    Val z = in(n, 0), l = in(n, 1);
    int64_t N = z.shape[0], C = z.shape[1];
    RDom c(0, int(C));
    Val lse = define({N}, [&](std::vector<Expr> idx) {
      return maximum(at(z, {idx[0], c}));
    }, name("rowmax"));
    root(lse);
    Val per = define({N}, [&](std::vector<Expr> idx) {
      Expr mx = at(lse, {idx[0]});
      Expr label = clamp(at(l, {idx[0]}), 0, int(C) - 1);
      return mx + log(sum(exp(at(z, {idx[0], c}) - mx))) - at(z, {idx[0], label});
    }, name("xent_row"));
    root(per);
    RDom r(0, int(N));
    return {define(out, [&](std::vector<Expr>) {
      return sum(at(per, {Expr(r)})) / float(N);
    }, name(op))};
  }
  if (op == "conv2d") {
    Val x = in(n, 0), w = in(n, 1), b = in(n, 2);
    int s = int(n.num.at("stride")), p = int(n.num.at("pad"));
    Shape xs = x.shape, ws = w.shape;
    std::array<int, 2> after;
    for (int d : {2, 3})
      after[d - 2] = padAfter(out[d], ws[d], s, p, xs[d]);
    Val xp = padded(x, {p, p}, after);
    RDom r(0, int(ws[3]), 0, int(ws[2]), 0, int(ws[1])); // kx, ky, ci
    auto bias = [&](std::vector<Expr> idx) { return at(b, {idx[1]}); };
    auto term = [&](std::vector<Expr> idx, Expr weight) {
      return at(xp, {idx[0], r.z, idx[2] * s + r.y, idx[3] * s + r.x}) * weight;
    };
    int64_t terms = numElements(ws) / ws[0]; // an output's
    if (channelsInner(out, terms))
      return {channelsInnerSum(out, w, 0, r, bias, term, op)};
    return {defineSum(out, bias, [&](std::vector<Expr> idx) {
      return term(idx, at(w, {idx[1], r.z, r.y, r.x}));
    }, op, false, channelBlock(out, terms))};
  }
  if (op == "conv2d_backward_filter") {
    // dw[co, ci, ky, kx] = sum over n, y, x of dy[n, co, y, x] *
    // xpad[n, ci, y s + ky, x s + kx]: a long sum, taken in two levels
    // (float partial sums per output column x, vectorised along x, then
    // those in double) so that it is both fast and accurate.
    Val x = in(n, 0), dy = in(n, 1);
    int s = int(n.num.at("stride")), p = int(n.num.at("pad"));
    Shape xs = x.shape, ds = dy.shape;
    // On a CPU, the partial sums per output column are vectors along the
    // columns. Where a row is narrow (narrowRow), they are as many as
    // whole vectors hold (32 for 21): dy is read from a copy with zero
    // columns after its own (the input's padding reaches that far), and
    // the sum over the columns adds only the first ones. Mini-ImageNet
    // 5w5s, the 21x21 and 10x10 layers' weight gradients 25 -> 14 and 14
    // -> 4.6 ms a meta-iteration (2 cores). Wider rows that are not whole
    // vectors end in a vector that overlaps the one before (below): the
    // copy of dy cost more than it saved at 84 columns (first layer 84 ->
    // 92-95 ms) and at 42 for the 75-image query batch (29-33 -> 34-37; the
    // 25-image batch's 61-64 -> 51).
    int64_t columns = ds[3];
    if (narrowRow(columns))
      columns = (columns + kCpuLanes - 1) / kCpuLanes * kCpuLanes;
    std::array<int, 2> after;
    for (int d : {2, 3})
      after[d - 2] = padAfter(d == 3 ? columns : ds[d], out[d], s, p, xs[d]);
    Val xp = padded(x, {p, p}, after);
    if (forGpu)
      return {gpuFilterGradient(dy, xp, s, out)};
    Val dyc = dy;
    if (columns != ds[3]) {
      int last = int(ds[3]) - 1;
      dyc = define({ds[0], ds[1], ds[2], columns}, [&](std::vector<Expr> idx) {
        return select(idx[3] <= last, at(dy, {idx[0], idx[1], idx[2], min(idx[3], last)}),
                      0.0f);
      }, name("conv2d_dy_columns"));
      root(dyc);
    }
    RDom r(0, int(ds[2]), 0, int(ds[0])); // y, n
    // On a CPU, a wider row that is not whole vectors (42, 84 columns)
    // has its partial sums as [.., V, 16], vector v starting at column
    // min(16 v, W - 16), so the last one overlaps the one before and every
    // vector is whole; the sum over the columns takes each column once,
    // the overlapped ones from the vector before. A guarded partial vector
    // kept its accumulators in memory (predicated loads and stores around
    // every multiply-add): the 10 columns of 42 took half the weight
    // gradient's time.
    bool overlapped = !forGpu && columns % kCpuLanes != 0;
    int64_t vectors = (columns + kCpuLanes - 1) / kCpuLanes;
    auto start = [&](Expr v) { return min(v * int(kCpuLanes), int(columns - kCpuLanes)); };
    Shape rows = out;
    if (overlapped) {
      rows.push_back(vectors);
      rows.push_back(kCpuLanes);
    } else {
      rows.push_back(columns);
    }
    constexpr int kChannelBlock = 4; // dy reused over ky, kx; x over 4 co
    RDom u(0, int(ds[3])); // the columns, summed last
    Val partial = defineSum(rows, nullptr, [&](std::vector<Expr> idx) {
      Expr col = overlapped ? start(idx[4]) + idx[5] : idx[4];
      return at(dyc, {r.y, idx[0], r.x, col}) *
             at(xp, {r.y, idx[1], r.x * s + idx[2], col * s + idx[3]});
    }, "conv2d_dw_columns", false, {{2, 0}, {3, 0}, {0, kChannelBlock}});
    // A block of output channels' dy over all the images is read again
    // for every input channel: where it outgrows a core's L2 cache (a
    // first layer's, 2.8 MB at 84x84), the images run in chunks whose dy
    // stays there while every input channel reads it.
    int64_t dyImage = kChannelBlock * ds[2] * columns * int64_t(sizeof(float));
    int64_t chunk = std::max<int64_t>(1, kCpuSumChunkBytes / dyImage);
    if (!forGpu && chunk < ds[0])
      reductionChunks[partial.f.name()] = int(chunk);
    // The rows in threes (or twos) where the window is taller than a row
    // (rows of at most kUnrolledTerms are unrolled whole anyway): an input
    // row loaded for one output row's ky is the next one's ky - s, which
    // LLVM then loads once. The 42x42 weight gradient's loop over the rows
    // loaded 11 vectors (9 of x, 2 of dy) for 18 multiply-adds, and Zen 4
    // loads one 512-bit vector a cycle; unrolled by 3, 21 for 54.
    if (int64_t unroll = largestDivisor(ds[2], 3); !forGpu && out[2] > 1 && unroll > 1)
      reductionUnroll[partial.f.name()] = int(unroll);
    return {defineSum(out, nullptr, [&](std::vector<Expr> idx) {
      if (!overlapped)
        return cast<double>(at(partial, cat(idx, {Expr(u)})));
      // (Clamped for Halide's bounds: it cannot follow them here.)
      Expr v = clamp(u / int(kCpuLanes), 0, int(vectors) - 1);
      Expr lane = clamp(u - start(v), 0, int(kCpuLanes) - 1);
      return cast<double>(at(partial, cat(idx, {v, lane})));
    }, op, /*inDouble=*/true)};
  }
  if (op == "conv2d_backward_data") {
    Val dy = in(n, 0), w = in(n, 1);
    int s = int(n.num.at("stride")), p = int(n.num.at("pad"));
    Shape ds = dy.shape, ws = w.shape;
    // dx[h] gets dy[i] w[ki] for i s + ki - p = h; i ranges over
    // floor((h + p - ki) / s), padded with zeros outside [0, Ho).
    std::array<int, 2> before, after;
    for (int d : {2, 3}) {
      before[d - 2] = std::max<int>(0, int(-((p - (ws[d] - 1) - (s - 1)) / s)));
      after[d - 2] = std::max<int>(0, int((out[d] - 1 + p) / s - (ds[d] - 1)));
    }
    Val dp = padded(dy, before, after);
    RDom r(0, int(ws[3]), 0, int(ws[2]), 0, int(ws[0])); // kx, ky, co
    auto term = [&](std::vector<Expr> idx, Expr weight) {
      Expr hi = idx[2] + p - r.y, wj = idx[3] + p - r.x;
      Expr dyv = at(dp, {idx[0], r.z, hi / s + before[0], wj / s + before[1]});
      if (s > 1)
        dyv = select((hi % s == 0) && (wj % s == 0), dyv, 0.0f);
      return dyv * weight;
    };
    int64_t terms = numElements(ws) / ws[1]; // an input pixel's
    if (channelsInner(out, terms))
      return {channelsInnerSum(out, w, 1, r, nullptr, term, op)};
    return {defineSum(out, nullptr, [&](std::vector<Expr> idx) {
      return term(idx, at(w, {r.z, idx[1], r.y, r.x}));
    }, op, false, channelBlock(out, terms))};
  }
  if (op == "maxpool" || op == "maxpool_gather" || op == "maxpool_backward") {
    Val x = in(n, 0);
    int k = int(n.num.at("kernel")), s = int(n.num.at("stride"));
    Shape pooled = op == "maxpool_backward" ? in(n, 1).shape : out;
    RDom r(0, k, 0, k);
    if (op == "maxpool")
      return {define(out, [&](std::vector<Expr> idx) {
        return maximum(at(x, {idx[0], idx[1], idx[2] * s + r.y, idx[3] * s + r.x}));
      }, name(op))};
    // The first maximum of each window in row-major order, as an offset:
    // one byte where windows have at most 255 elements (the stored stage
    // is a quarter of the pooled activations' size).
    Type offsetType = k * k <= 255 ? UInt(8) : Int(32);
    Val arg = define(pooled, [&](std::vector<Expr> idx) {
      Tuple t = argmax(at(x, {idx[0], idx[1], idx[2] * s + r.y, idx[3] * s + r.x}));
      return cast(offsetType, t[1] * k + t[0]);
    }, name("argmax"));
    root(arg);
    auto offsetAt = [&](const Val &a, std::vector<Expr> idx) {
      return cast<int>(at(a, std::move(idx)));
    };
    Val g = in(n, 1);
    if (op == "maxpool_gather")
      return {define(out, [&](std::vector<Expr> idx) {
        Expr a = clamp(offsetAt(arg, idx), 0, k * k - 1);
        return at(g, {idx[0], idx[1], idx[2] * s + a / k, idx[3] * s + a % k});
      }, name(op))};
    if (s == k) {
      // Windows that do not overlap: each pixel is in at most one.
      windowMaxima[int(&n - this->g.nodes.data())] = {arg, k, s, pooled};
      return {define(out, [&](std::vector<Expr> idx) {
        Expr i = idx[2] / s, j = idx[3] / s;
        Expr inside = i < int(pooled[2]) && j < int(pooled[3]);
        Expr ic = min(i, int(pooled[2]) - 1), jc = min(j, int(pooled[3]) - 1);
        Expr hit = offsetAt(arg, {idx[0], idx[1], ic, jc}) ==
                   (idx[2] % s) * k + idx[3] % s;
        return select(inside && hit, at(g, {idx[0], idx[1], ic, jc}), 0.0f);
      }, name(op))};
    }
    // maxpool_backward: windows (i, j) with i s <= h < i s + k.
    Func gpad = BoundaryConditions::constant_exterior(
        g.f, 0.0f, {{0, int(pooled[3])}, {0, int(pooled[2])}, {0, int(pooled[1])}, {0, int(pooled[0])}});
    // Outside the windows: k * k, no window's offset.
    Func apad = BoundaryConditions::constant_exterior(
        arg.f, cast(offsetType, k * k),
        {{0, int(pooled[3])}, {0, int(pooled[2])}, {0, int(pooled[1])}, {0, int(pooled[0])}});
    return {define(out, [&](std::vector<Expr> idx) {
      Expr h = idx[2], v = idx[3];
      Expr i = (h - r.y), j = (v - r.x);
      Expr ok = (i % s == 0) && (j % s == 0) && i >= 0 && j >= 0;
      Expr ii = i / s, jj = j / s;
      Expr hit = offsetAt({apad, pooled}, {idx[0], idx[1], ii, jj}) == r.y * k + r.x;
      return sum(select(ok && hit, at({gpad, pooled}, {idx[0], idx[1], ii, jj}), 0.0f));
    }, name(op))};
  }
  if (op == "batchnorm") {
    Val x = in(n, 0), gamma = in(n, 1), beta = in(n, 2), rm = in(n, 3), rv = in(n, 4);
    Shape xs = x.shape;
    int64_t C = xs[1], M = numElements(xs) / C;
    float eps = num("eps"), mom = num("momentum");
    bool train = n.str == "train";
    Val mean = rm, var = rv;
    Val batchMean, batchVar, newMeanFrom;
    if (train) {
      // Innermost tensor dimension first (the innermost loop).
      Region region;
      for (size_t d = xs.size(); d-- > 2;)
        region.push_back(Range(0, int(xs[d])));
      region.push_back(Range(0, int(xs[0])));
      int last = int(region.size()) - 1;
      auto src = [&](Expr c, const std::vector<Expr> &r) {
        std::vector<Expr> e{r[last], c};
        for (int d = last - 1; d >= 0; --d)
          e.push_back(r[d]);
        return e;
      };
      // Channel statistics accumulate in double, like the interpreter.
      Val sumD = longSum({C}, region, [&](std::vector<Expr> idx,
                                          std::vector<Expr> r) {
        return at(x, src(idx[0], r));
      }, "bn_sum_f64");
      batchMean = define({C}, [&](std::vector<Expr> idx) {
        return cast<float>(at(sumD, idx) / Expr(double(M)));
      }, name("bn_mean"));
      // The running mean's update reads the mean where it is computed.
      newMeanFrom = batchMean;
      if (forGpu) {
        // Stored as a copy, so that the per-channel results (the mean,
        // 1 / std, the running statistics) each compute the statistics
        // from the sums' last level, all in one launch (not the running
        // statistics and 1 / std a launch after the mean and variance).
        Val inPlace = batchMean;
        batchMean = define({C}, [&](std::vector<Expr> idx) { return at(inPlace, idx); },
                           name("bn_mean"));
      }
      root(batchMean);
      // One pass: the sum of squares beside the sum (on a GPU in the same
      // levels, one launch a level; on a CPU in the same loop nest,
      // fuseColumnSums), one read of x; the variance E[x^2] - mean^2 in
      // double, exact to ~1e-16 (mean / std)^2 relative. (On a CPU the
      // squares were taken about the mean, a second pass over x: the
      // forward's batch-norm kernels are bound by memory, three passes
      // over a layer's activations with the max-pooling's.)
      Val squares = longSum({C}, region, [&](std::vector<Expr> idx,
                                             std::vector<Expr> r) {
        Expr v = cast<double>(at(x, src(idx[0], r)));
        return v * v;
      }, "bn_squares_f64");
      batchVar = define({C}, [&](std::vector<Expr> idx) {
        Expr m = at(sumD, idx) / Expr(double(M));
        return cast<float>(max(at(squares, idx) / Expr(double(M)) - m * m, Expr(0.0)));
      }, name("bn_var"));
      // On a GPU not stored: read only by 1 / std and the running
      // variance, in that same launch.
      if (!forGpu)
        root(batchVar);
      mean = batchMean;
      var = batchVar;
    }
    Val inv = define({C}, [&](std::vector<Expr> idx) {
      return 1.0f / sqrt(at(var, idx) + eps);
    }, name("bn_inv_std"));
    // The interpreter's order, which lopt-rematerialize's recomputation
    // for the backward follows too.
    Val y = define(out, [&](std::vector<Expr> idx) {
      Expr c = idx[1];
      return at(gamma, {c}) * ((at(x, idx) - at(mean, {c})) * at(inv, {c})) +
             at(beta, {c});
    }, name(op));
    if (!train)
      return {y, rm, rv, rm, inv};
    // Torch's convention: momentum weighs the new statistic; the running
    // variance takes the unbiased batch variance.
    float unbias = M > 1 ? float(M) / float(M - 1) : 1.0f;
    Val nm = define({C}, [&](std::vector<Expr> idx) {
      return (1 - mom) * at(rm, idx) + mom * at(newMeanFrom, idx);
    }, name("bn_new_mean"));
    Val nv = define({C}, [&](std::vector<Expr> idx) {
      return (1 - mom) * at(rv, idx) + mom * at(batchVar, idx) * unbias;
    }, name("bn_new_var"));
    return {y, nm, nv, batchMean, inv};
  }

  // Cell ops, one coordinate per leading index k in mapped graphs.
  if (op == "preprocess" || op == "preprocess_grad") {
    Val x = in(n, 0);
    float pval = num("p"), lim = std::exp(-pval), ep = std::exp(pval);
    if (op == "preprocess")
      return {define(out, [&](std::vector<Expr> idx) {
        Expr j = idx.back();
        std::vector<Expr> xi = prefix(idx);
        if (x.shape.size() > xi.size()) // a vector, not one scalar
          xi.push_back(j / 2);
        Expr e = at(x, xi);
        Expr big = abs(e) >= lim;
        Expr first = select(big, log(abs(e)) / pval, -1.0f);
        Expr second = select(big, select(e > 0, 1.0f, select(e < 0, -1.0f, 0.0f)), ep * e);
        return select(j % 2 == 0, first, second);
      }, name(op))};
    Val gv = in(n, 1);
    return {define(out, [&](std::vector<Expr> idx) {
      Expr e = at(x, idx);
      Expr j = idx.size() > prefix(idx).size() ? idx.back() : Expr(0);
      std::vector<Expr> gi = prefix(idx);
      Expr e0 = at(gv, cat(gi, {2 * j})), e1 = at(gv, cat(gi, {2 * j + 1}));
      return select(abs(e) >= lim, e0 / (pval * e), e1 * ep);
    }, name(op))};
  }
  if (op == "concat") {
    std::vector<Val> parts;
    for (size_t i = 0; i < n.inputs.size(); ++i)
      parts.push_back(in(n, i));
    if (!forGpu && !mappedGraph && out.size() == 1 && parts.size() >= 2) {
      // On a CPU, each part copied to its place (pieceCopies).
      Func f(name(op));
      Var j("j");
      f(j) = undef<float>(); // the parts cover it
      int64_t offset = 0;
      for (const Val &pv : parts) {
        int64_t len = numElements(pv.shape);
        if (pv.shape.empty()) {
          f(int(offset)) = at(pv, {});
        } else {
          RDom r(0, int(len), "piece");
          f(r + int(offset)) = at(pv, {Expr(r)});
        }
        offset += len;
      }
      Val v{f, out};
      root(v);
      pieceCopies.insert(f.name());
      return {v};
    }
    return {define(out, [&](std::vector<Expr> idx) {
      Expr j = idx.back();
      std::vector<Expr> pre = prefix(idx);
      Expr result;
      int64_t offset = 0;
      std::vector<int64_t> offsets;
      for (const Val &pv : parts) {
        offsets.push_back(offset);
        offset += numElements(pv.shape) / (mappedGraph ? g.coords : 1);
      }
      // From the last part backwards, so that the first matching part wins.
      for (size_t i = parts.size(); i-- > 0;) {
        const Val &pv = parts[i];
        int64_t len = numElements(pv.shape) / (mappedGraph ? g.coords : 1);
        bool scalar = pv.shape.size() == pre.size();
        Expr local = clamp(j - int(offsets[i]), 0, int(len) - 1);
        Expr v = scalar ? at(pv, pre) : at(pv, cat(pre, {local}));
        result = i + 1 == parts.size() ? v : select(j >= int(offsets[i + 1]), result, v);
      }
      return result;
    }, name(op))};
  }
  if (op == "affine") {
    Val x = in(n, 0), w = in(n, 1), b = in(n, 2);
    size_t pre = mappedGraph ? 1 : 0;
    bool xScalar = x.shape.size() == pre;
    int64_t I = xScalar ? 1 : x.shape.back();
    RDom r(0, int(I));
    bool scalarOut = w.shape.size() == pre + 1;
    return {defineSum(out, [&](std::vector<Expr> idx) {
      std::vector<Expr> p = prefix(idx);
      return scalarOut ? at(b, p) : at(b, cat(p, {idx.back()}));
    }, [&](std::vector<Expr> idx) {
      std::vector<Expr> p = prefix(idx);
      Expr xv = xScalar ? at(x, p) : at(x, cat(p, {r}));
      Expr wv = scalarOut ? at(w, cat(p, {r})) : at(w, cat(p, {idx.back(), r}));
      return wv * xv;
    }, op)};
  }
  if (op == "lstm" || op == "lstm_grad") {
    Val x = in(n, 0), h = in(n, 1), c = in(n, 2), w = in(n, 3), b = in(n, 4);
    size_t pre = mappedGraph ? 1 : 0;
    bool xScalar = x.shape.size() == pre;
    int64_t I = xScalar ? 1 : x.shape.back(), H = h.shape.back();
    Shape vecH = mappedGraph ? Shape{g.coords, H} : Shape{H};
    Shape vec4H = vecH, vecIH = vecH;
    vec4H.back() = 4 * H;
    vecIH.back() = I + H;
    auto zAt = [&](std::vector<Expr> p, Expr j) {
      Expr xv = xScalar ? at(x, p) : at(x, cat(p, {clamp(j, 0, int(I) - 1)}));
      return select(j < int(I), xv, at(h, cat(p, {clamp(j - int(I), 0, int(H) - 1)})));
    };
    // The forward part (pre-activations, gates, new cell state) once per
    // operands: a cell's VJP recomputes the lstm and lstm_grad needs the
    // same values.
    std::string key;
    for (int i = 0; i < 5; ++i)
      key += std::to_string(n.inputs[i]) + ",";
    auto found = lstmForward.find(key);
    if (found == lstmForward.end()) {
      RDom r(0, int(I + H));
      // A weight shared by all coordinates is read transposed, so that
      // vectors along the gate rows load contiguously: on a CPU, vectors
      // of the block's rows; in a GPU's thread per coordinate, 4 rows at a
      // time (threadVectors: 1,920 -> 480 load instructions a coordinate,
      // for a launch per call that lays the weight out). (In a cell's
      // VJP, read in place by both the pre-activations and the input
      // gradient, LLVM kept the weight's 1,920 loads for both and the
      // thread spilled 16 KB.)
      bool shared = isSharedArg(n.inputs[3]);
      Val wt;
      if (shared) {
        wt = define({I + H, 4 * H}, [&](std::vector<Expr> idx) {
          return at(w, {Expr(0), idx[1], idx[0]});
        }, name("lstm_wt"));
        root(wt);
        keptStored.insert(wt.f.name());
      }
      Val a = defineSum(vec4H, [&](std::vector<Expr> idx) { return at(b, idx); },
                        [&](std::vector<Expr> idx) {
        std::vector<Expr> p = prefix(idx);
        Expr wv = shared ? at(wt, {Expr(r), idx.back()})
                         : at(w, cat(p, {idx.back(), r}));
        return wv * zAt(p, r);
      }, "lstm_pre", false, coordinateBlocks(shared, 1));
      // (Not the input gradient below, which reads the weight in place
      // along its rows too: with both in vectors, the VJP's thread, at 255
      // registers, spilled 88 bytes at Mini-ImageNet size.)
      if (shared && forGpu && perCoordinateResult)
        threadVectors.insert(a.f.name());
      // The four gates once: sigmoid for input, forget and output, tanh
      // (= 2 sigmoid(2 v) - 1, one exponential either way) for the cell.
      Val act = define(vec4H, [&](std::vector<Expr> idx) {
        Expr isCell = idx.back() >= 3 * int(H);
        Expr v = at(a, idx);
        Expr sg = gates.sigmoid(select(isCell, 2 * v, v));
        return select(isCell, 2 * sg - 1, sg);
      }, name("lstm_gates"));
      root(act);
      Val cNew = define(vecH, [&](std::vector<Expr> idx) {
        std::vector<Expr> p = prefix(idx);
        Expr kk = idx.back();
        auto gt = [&](int which) { return at(act, cat(p, {kk + which * int(H)})); };
        return gt(1) * at(c, idx) + gt(0) * gt(3);
      }, name("lstm_c"));
      root(cNew);
      found = lstmForward.emplace(key, std::make_pair(act, cNew)).first;
    }
    Val act = found->second.first, cNew = found->second.second;
    auto gate = [&](std::vector<Expr> p, Expr kk, int which) {
      return at(act, cat(p, {kk + which * int(H)}));
    };
    if (op == "lstm") {
      Val hNew = define(vecH, [&](std::vector<Expr> idx) {
        return gate(prefix(idx), idx.back(), 2) * gates.tanh(at(cNew, idx));
      }, name("lstm_h"));
      return {hNew, cNew};
    }
    Val dh1 = in(n, 5), dc1 = in(n, 6);
    Val tanhC = define(vecH, [&](std::vector<Expr> idx) {
      return gates.tanh(at(cNew, idx));
    }, name("lstm_tanh_c"));
    root(tanhC);
    Val dcTot = define(vecH, [&](std::vector<Expr> idx) {
      Expr t = at(tanhC, idx);
      return at(dc1, idx) + at(dh1, idx) * gate(prefix(idx), idx.back(), 2) * (1 - t * t);
    }, name("lstm_dctot"));
    root(dcTot);
    // The gates' derivatives, stored as [.., 4, H] (the same bytes as
    // [.., 4H]) so that the gate is an outer loop, not a per-lane select.
    Shape vec4xH = vecH;
    vec4xH.insert(vec4xH.end() - 1, 4);
    Val da4 = define(vec4xH, [&](std::vector<Expr> idx) {
      std::vector<Expr> p = prefix(idx);
      Expr which = idx[idx.size() - 2], kk = idx.back();
      std::vector<Expr> pk = cat(p, {kk});
      Expr ig = gate(p, kk, 0), fg = gate(p, kk, 1), og = gate(p, kk, 2), gg = gate(p, kk, 3);
      Expr dct = at(dcTot, pk);
      Expr t = at(tanhC, pk);
      return select(which == 0, dct * gg * ig * (1 - ig),
                    which == 1, dct * at(c, pk) * fg * (1 - fg),
                    which == 2, at(dh1, pk) * t * og * (1 - og),
                    dct * ig * (1 - gg * gg));
    }, name("lstm_da"));
    root(da4);
    Val da = define(vec4H, [&](std::vector<Expr> idx) {
      std::vector<Expr> p = prefix(idx);
      Expr row = idx.back();
      return at(da4, cat(p, {row / int(H), row % int(H)}));
    }, name("lstm_da_rows"));
    RDom rr(0, int(4 * H));
    Val dz = defineSum(vecIH, nullptr, [&](std::vector<Expr> idx) {
      std::vector<Expr> p = prefix(idx);
      return at(w, cat(p, {rr, idx.back()})) * at(da, cat(p, {rr}));
    }, "lstm_dz", false, coordinateBlocks(isSharedArg(n.inputs[3]), kGpuRowBlock));
    Shape xFull = x.shape;
    Val dx = define(xFull, [&](std::vector<Expr> idx) {
      std::vector<Expr> p = prefix(idx);
      return at(dz, cat(p, {xScalar ? Expr(0) : idx.back()}));
    }, name("lstm_dx"));
    Val dhv = define(vecH, [&](std::vector<Expr> idx) {
      return at(dz, cat(prefix(idx), {idx.back() + int(I)}));
    }, name("lstm_dh"));
    Val dcv = define(vecH, [&](std::vector<Expr> idx) {
      return at(dcTot, idx) * gate(prefix(idx), idx.back(), 1);
    }, name("lstm_dcprev"));
    // A mapped LSTM's input and state side by side, stored: on a CPU the
    // weight gradient's vectors along them are then plain loads (built in
    // place from the two, they were gathers); on a GPU, where a thread per
    // coordinate computes it, the weight gradient's sums read it written
    // out whole, 24 values a coordinate, instead of two buffers through a
    // select that loads both (504 -> 378 loads a thread of its first level
    // at Mini-ImageNet size).
    Val z;
    if (mappedGraph && (!forGpu || perCoordinateResult)) {
      z = define(vecIH, [&](std::vector<Expr> idx) {
        return zAt(prefix(idx), idx.back());
      }, name("lstm_z"));
      root(z);
    }
    Shape wFull = w.shape;
    Val dw = define(wFull, [&](std::vector<Expr> idx) {
      std::vector<Expr> p = prefix(idx);
      Expr row = idx[idx.size() - 2], j = idx.back();
      return at(da, cat(p, {row})) * (z.f.defined() ? at(z, cat(p, {j})) : zAt(p, j));
    }, name("lstm_dw"));
    Val db = define(vec4H, [&](std::vector<Expr> idx) { return at(da, idx); }, name("lstm_db"));
    // On a CPU, summed over the coordinates in da4's layout (a vector of
    // rows [.., 4H] read from it is a gather: its rows are padded).
    if (mappedGraph && !forGpu)
      sumVia.insert({db.f.name(), da4});
    return {dx, dhv, dcv, dw, db};
  }
  if (op == "affine_grad") {
    Val x = in(n, 0), w = in(n, 1), gv = in(n, 2);
    size_t pre = mappedGraph ? 1 : 0;
    bool xScalar = x.shape.size() == pre;
    bool scalarOut = w.shape.size() == pre + 1;
    int64_t O = scalarOut ? 1 : w.shape[pre];
    RDom r(0, int(O));
    Val dx = scalarOut
      ? define(x.shape, [&](std::vector<Expr> idx) {
          std::vector<Expr> p = prefix(idx);
          return at(gv, p) * at(w, cat(p, {xScalar ? Expr(0) : idx.back()}));
        }, name("affine_dx"))
      : defineSum(x.shape, nullptr, [&](std::vector<Expr> idx) {
          std::vector<Expr> p = prefix(idx);
          Expr i = xScalar ? Expr(0) : idx.back();
          return at(gv, cat(p, {r})) * at(w, cat(p, {r, i}));
        }, "affine_dx");
    Val dw = define(w.shape, [&](std::vector<Expr> idx) {
      std::vector<Expr> p = prefix(idx);
      Expr i = idx.back();
      Expr xv = xScalar ? at(x, p) : at(x, cat(p, {i}));
      Expr gg = scalarOut ? at(gv, p) : at(gv, cat(p, {idx[idx.size() - 2]}));
      return gg * xv;
    }, name("affine_dw"));
    Val db = define(gv.shape, [&](std::vector<Expr> idx) { return at(gv, idx); }, name("affine_db"));
    return {dx, dw, db};
  }
  error = "no Halide lowering for lopt." + op;
  return {};
}

struct Compiled {
  Pipeline pipeline;
  std::vector<ImageParam> params;
  size_t numOutputs = 0;
};

} // namespace

bool lowerKernel(const KernelGraph &graph, LoweredKernel &out,
                 std::string &error, const Target *gpu) {
  Lowering lowering(graph, gpu);
  return lowering.lower(out, error);
}

struct KernelCompiler::Impl {
  std::unordered_map<std::string, std::unique_ptr<Compiled>> cache;
  double seconds = 0;
  Target target = jitTarget();
};

KernelCompiler::KernelCompiler() : impl(std::make_unique<Impl>()) {}
KernelCompiler::~KernelCompiler() = default;
size_t KernelCompiler::numCompiled() const { return impl->cache.size(); }
double KernelCompiler::compileSeconds() const { return impl->seconds; }

namespace {
/// A freshly allocated (and so vector-aligned: compiled kernels assume
/// it, as the AOT arena provides it) copy of row-major `data`.
template <typename T> Buffer<T> alignedCopy(const T *data, const Shape &shape) {
  std::vector<int> sizes(shape.rbegin(), shape.rend());
  Buffer<T> b = sizes.empty() ? Buffer<T>::make_scalar() : Buffer<T>(sizes);
  std::copy(data, data + numElements(shape), b.data());
  return b;
}

template <typename T> void copyOut(const Buffer<> &b, T *data) {
  const T *src = reinterpret_cast<const T *>(b.raw_buffer()->host);
  std::copy(src, src + b.number_of_elements(), data);
}
} // namespace

bool KernelCompiler::run(const KernelGraph &graph,
                         const std::vector<KernelBuffer> &args,
                         const std::vector<KernelBuffer> &results,
                         std::string &error) {
  try {
    std::string key = graph.key();
    auto it = impl->cache.find(key);
    if (it == impl->cache.end()) {
      auto start = std::chrono::steady_clock::now();
      auto c = std::make_unique<Compiled>();
      LoweredKernel k;
      if (!lowerKernel(graph, k, error))
        return false;
      scheduleForCpu(graph, k, impl->target);
      c->params = k.params;
      c->pipeline = Pipeline(k.outputs);
      c->numOutputs = k.outputs.size();
      c->pipeline.compile_jit(impl->target);
      impl->seconds += std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      it = impl->cache.emplace(key, std::move(c)).first;
    }
    Compiled &c = *it->second;
    for (size_t a = 0; a < args.size(); ++a) {
      if (args[a].i)
        c.params[a].set(alignedCopy(args[a].i, args[a].shape));
      else
        c.params[a].set(alignedCopy(args[a].f, args[a].shape));
    }
    std::vector<Buffer<>> outs;
    for (const KernelBuffer &r : results)
      outs.push_back(r.i ? Buffer<>(alignedCopy(r.i, r.shape))
                         : Buffer<>(alignedCopy(r.f, r.shape)));
    c.pipeline.realize(Realization(outs), impl->target);
    for (size_t r = 0; r < results.size(); ++r) {
      if (results[r].i)
        copyOut(outs[r], results[r].i);
      else
        copyOut(outs[r], results[r].f);
    }
    return true;
  } catch (const Halide::Error &e) {
    error = std::string("Halide: ") + e.what();
    return false;
  }
}

} // namespace lopt::codegen
