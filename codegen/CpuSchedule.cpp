//===- CpuSchedule.cpp - how kernels run on a CPU -------------------------===//
//
// The schedule half of every kernel (the algorithm is HalideLowering.cpp):
// each stored stage is vectorised along its innermost dimension at the
// target's natural float width and runs its outermost dimension in
// parallel, in chunks, when it has enough elements to pay for the threads;
// sums (update definitions) keep their accumulators in registers, with the
// reuse hints of the lowering (scheduleSum), or a tile of the output at a
// time where a convolution's rows are not whole vectors (scheduleCopiedSum);
// sums a column at a time over one region share a loop nest
// (fuseColumnSums). A kernel mapped over the coordinates (a cell, its VJP)
// computes its per-coordinate stages a tile of coordinates at a time, in
// one loop shared by its outputs and by the tiles' sums (tileLoop). Stored
// stages cheap to compute again are computed where they are read instead
// (Recompute.h, kCpuRecompute). Shapes are static, so every decision is
// made here at compile time.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"
#include "codegen/Recompute.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <set>

namespace lopt::codegen {

using namespace Halide;

namespace {

/// Vectors along `v` (the innermost dimension, `extent` long). A partial
/// last vector is guarded, not shifted inwards: Halide 14 misjudges the
/// alignment of strided loads in a shifted tail (a crash seen here).
void vectorizeInner(Func f, const Var &v, int64_t extent, int lanes) {
  f.vectorize(v, lanes,
              extent % lanes ? TailStrategy::GuardWithIf
                             : TailStrategy::ShiftInwards);
}

/// Stages the lowering stores that are recomputed where they are read
/// (Recompute.h): up to 144 operations an element, at any size, and a short
/// reduction only by readers no larger than its stage. Stored, each stage
/// of batch norm's backward over a layer's activations (the normalised
/// activation, relu's output, the masked gradient below a max-pooling) was
/// a pass through memory: Mini-ImageNet 5w5s, 2 cores, 0.86x the time of
/// a meta-iteration (interleaved runs; up to 64 operations: 0.96x; up to
/// 288, with the weight gradient's dy recomputed inside its sums: 1.02x).
constexpr RecomputeRule kCpuRecompute = {144, std::numeric_limits<int64_t>::max(), 144, 0};

/// Stages smaller than this run on one thread.
constexpr int64_t kParallelElements = 8192;
/// Parallel work is cut into about this many chunks (a few per thread).
constexpr int64_t kChunks = 16;

/// Runs `f`'s (pure) definition on the threads, in chunks of its outermost
/// dimension (of whole vectors where it is also the vectorised one).
void parallelOuter(Func f, const Shape &shape, int lanes) {
  std::vector<Var> vars = f.args(); // innermost first
  int64_t outer = shape.front();
  Var o = vars.back(), po("po"), pi("pi");
  if (shape.size() == 1) {
    // The vectorised dimension itself (o now counts whole vectors).
    int64_t chunk = std::max<int64_t>(1, outer / lanes / kChunks);
    f.split(o, po, pi, int(chunk)).parallel(po);
  } else if (outer >= 2 * kChunks) {
    f.split(o, po, pi, int((outer + kChunks - 1) / kChunks)).parallel(po);
  } else {
    f.parallel(o);
  }
}

/// A sum's row of `inner` floats in vectors of `lanes`, or of narrower
/// ones that divide it where it is a few vectors (24 floats in 16 lanes),
/// down to 4 lanes: a guarded partial vector's loads and stores are
/// predicated, and its accumulators no longer stay in registers.
int rowLanes(int64_t inner, int lanes) {
  while (inner % lanes != 0 && inner < 4 * lanes && lanes > 4 &&
         inner % (lanes / 2) == 0)
    lanes /= 2;
  return lanes;
}

/// Vector registers a sum's schedule leaves for the loads of its terms.
constexpr int kLoadRegisters = 4;

/// A tile's sum of a row of `inner` floats in the widest vectors (down to
/// single floats) that divide it, so every vector is whole, where its
/// accumulators fit the registers; else rowLanes. A guarded partial vector
/// is a masked load and store each term, and its row's accumulators stay
/// in memory: the LSTM's bias gradient ([4, 20], 16 + 4 lanes a row) and
/// the two affine gates' weight gradients (22 wide) took 11% of the
/// Omniglot cell's VJP that way, 2 cores (`perf`).
int tileSumLanes(int64_t inner, int lanes, int registers) {
  if (inner % lanes == 0)
    return lanes;
  for (int l = lanes / 2; l >= 1; l /= 2)
    if (inner % l == 0)
      return inner / l <= registers - kLoadRegisters ? l : rowLanes(inner, lanes);
  return rowLanes(inner, lanes);
}

/// One accumulator per unrolled output, so no more than the vector
/// registers hold (kLoadRegisters left for the loads): the reuse blocks
/// given a size halve, the last first, until they fit (whole dimensions
/// stay whole). `extent(dim)` counts a vectorised dimension in vectors.
void fitBlocks(std::vector<std::pair<int, int>> &reuse,
               const std::function<int64_t(int)> &extent, int registers) {
  auto accumulators = [&] {
    int64_t n = 1;
    for (auto [dim, block] : reuse)
      n *= block > 0 && extent(dim) > block ? block : extent(dim);
    return n;
  };
  for (size_t i = reuse.size(); i-- > 0;)
    while (reuse[i].second > 1 && accumulators() > registers - kLoadRegisters)
      reuse[i].second /= 2;
}

/// A sum into its own buffer (f = init; f += term over an RDom): vectors
/// along the innermost pure dimension with the reduction loops right
/// inside them, so the accumulators stay in registers; threads over the
/// outermost pure dimensions. A sum over the coordinates of a mapped kernel
/// (`domainOutside`) walks its domain once, outside all pure loops but the
/// threads' chunks, so every term is read once and the accumulators stay
/// in cache.
void scheduleSum(Func f, const Shape &shape, int lanes, int registers,
                 bool domainOutside, std::vector<std::pair<int, int>> reuse,
                 bool threads = true, int reductionChunk = 0,
                 int reductionUnroll = 0) {
  std::vector<Var> vars = f.args(); // innermost first
  int64_t inner = shape.back(), outer = shape.front();
  Stage u = f.update();
  lanes = rowLanes(inner, lanes);
  auto tail = [](int64_t extent, int64_t factor) {
    return extent % factor ? TailStrategy::GuardWithIf : TailStrategy::Auto;
  };
  std::vector<VarOrRVar> order;
  Var vi("vi"), lo("lo"), li("li"), fused("fused");
  bool vectorize = inner >= lanes;
  if (vectorize) {
    vectorizeInner(f, vars[0], inner, lanes);
    u.split(vars[0], vars[0], vi, lanes, tail(inner, lanes));
    order.push_back(vi);
  }
  // Its initial values (zeros, a convolution's bias) too: a pass over the
  // whole result (22.6 MB for a first layer's 25 x 32 x 84 x 84), which
  // one thread wrote alone.
  if (threads && numElements(shape) >= kParallelElements && outer >= 2)
    parallelOuter(f, shape, lanes);
  // Reused dimensions: blocked, unrolled, right inside the vectors, as
  // many as fit the registers (fitBlocks).
  int last = int(shape.size()) - 1;
  auto extent = [&](int dim) {
    return dim == last && vectorize ? (inner + lanes - 1) / lanes : shape[dim];
  };
  fitBlocks(reuse, extent, registers);
  reuse.erase(std::remove_if(reuse.begin(), reuse.end(),
                             [](auto &r) { return r.second == 1; }),
              reuse.end());
  std::vector<Var> blocked;
  std::map<int, int64_t> split; // block by dimension, where blocked in part
  for (auto [dim, block] : reuse) {
    int h = int(shape.size()) - 1 - dim; // Halide's index
    Var v = vars[h];
    if (block > 0 && extent(dim) > block) {
      Var bi(v.name() + "_b");
      u.split(v, v, bi, block, tail(extent(dim), block));
      split[dim] = block;
      order.push_back(bi);
      u.unroll(bi);
    } else {
      order.push_back(v);
      u.unroll(v);
      blocked.push_back(v);
    }
  }
  // Iterations of dimension `dim`'s loop outside its block.
  auto loops = [&](int dim) {
    auto b = split.find(dim);
    return b == split.end() ? extent(dim) : (extent(dim) + b->second - 1) / b->second;
  };
  std::vector<RVar> rvars = f.rvars(0);
  // The outermost reduction in chunks (LoweredKernel::reductionChunks):
  // a chunk's loop inside, the chunks outside the pure loops but the
  // threads'.
  RVar chunks(rvars.back().name() + "_chunks"), inChunk(rvars.back().name() + "_in");
  bool chunked = reductionChunk > 0 && vars.size() >= 3 && !domainOutside;
  if (chunked) {
    u.split(rvars.back(), chunks, inChunk, reductionChunk, TailStrategy::GuardWithIf);
    rvars.back() = inChunk;
  }
  // Short reduction loops innermost are unrolled, so the accumulators stay
  // in registers across them; a longer innermost one by reductionUnroll
  // (LoweredKernel::reductionUnroll), right inside the blocks.
  size_t unrolled = domainOutside ? 0 : unrollShortReductions(f);
  if (unrolled == 0 && reductionUnroll > 1 && !domainOutside && rvars.size() >= 2) {
    RVar outer(rvars.front().name() + "_o"), inner(rvars.front().name() + "_u");
    u.split(rvars.front(), outer, inner, reductionUnroll).unroll(inner);
    rvars.front() = outer;
    order.push_back(inner);
  }
  if (!domainOutside)
    order.insert(order.end(), rvars.begin(), rvars.end());
  // Whole blocked dimensions appear once, above.
  auto isBlocked = [&](const Var &v) {
    for (const Var &b : blocked)
      if (b.name() == v.name())
        return true;
    return false;
  };
  if (vars.size() >= 3 && !domainOutside) {
    // The two outermost dimensions (batch and channels) share the threads;
    // when one is unrolled whole (a reused dimension no longer than its
    // block), the other alone.
    Var channels = vars[vars.size() - 2], outermost = vars.back();
    for (size_t d = 0; d + 2 < vars.size(); ++d)
      if (!isBlocked(vars[d]))
        order.push_back(vars[d]);
    threads &= !isBlocked(channels) || !isBlocked(outermost);
    // In chunks, the channels inside them and the threads over the
    // outermost dimension (but where either is unrolled whole).
    bool channelsInChunks = chunked && !isBlocked(channels) && !isBlocked(outermost);
    if (chunked && !channelsInChunks)
      order.push_back(chunks);
    if (channelsInChunks) {
      order.push_back(channels);
      order.push_back(chunks);
      order.push_back(outermost);
    } else if (isBlocked(outermost)) {
      outermost = channels;
      if (!isBlocked(channels))
        order.push_back(channels);
    } else if (isBlocked(channels)) {
      order.push_back(outermost);
    } else {
      u.fuse(channels, outermost, fused);
      order.push_back(fused);
      outermost = fused;
    }
    u.reorder(order);
    if (vectorize)
      u.vectorize(vi);
    if (threads) {
      // In at most kChunks tasks: one per output channel (and image) took
      // 512 to 1,024 tasks of a few hundred multiply-adds each at
      // Omniglot's 3x3 to 14x14 weight gradients, 0.7-0.9 ms a call in
      // the thread pool's lock whatever their size.
      int64_t tasks = outermost.name() == fused.name() ? loops(0) * loops(1)
                      : outermost.name() == channels.name() ? loops(1)
                                                             : loops(0);
      if (tasks > kChunks) {
        Var po("po"), pi("pi");
        int64_t per = (tasks + kChunks - 1) / kChunks;
        u.split(outermost, po, pi, int(per), tail(tasks, per)).parallel(po);
      } else {
        u.parallel(outermost);
      }
    }
    return;
  }
  // Chunks of the outermost dimension (in vectors when it is the
  // vectorised one) for the threads.
  int64_t units = vars.size() == 1 && vectorize ? (outer + lanes - 1) / lanes : loops(0);
  int64_t chunk = (units + 7) / 8;
  // (Not an outermost dimension unrolled whole: a one-dimensional sum
  // taken a column at a time, its few vectors all in registers.)
  bool outerUnrolled = !vars.empty() && isBlocked(vars.back());
  bool parallel = threads && !vars.empty() && units >= 2 && !outerUnrolled;
  for (size_t d = 0; d + 1 < vars.size(); ++d)
    if (!isBlocked(vars[d]))
      order.push_back(vars[d]);
  if (parallel) {
    u.split(vars.back(), lo, li, int(chunk), tail(units, chunk));
    order.push_back(li);
  } else if (!vars.empty() && !outerUnrolled) {
    order.push_back(vars.back());
  }
  if (domainOutside)
    order.insert(order.end(), rvars.begin(), rvars.end());
  if (parallel)
    order.push_back(lo);
  u.reorder(order);
  if (vectorize)
    u.vectorize(vi);
  if (parallel)
    u.parallel(lo);
}

/// A concatenation (LoweredKernel::pieceCopies): each part's copy in
/// vectors along the part, on one thread (a few hundred KB at most: the
/// learner's flat gradient).
void schedulePieceCopies(Func f, int lanes) {
  for (int u = 0; u < f.num_update_definitions(); ++u) {
    const auto &rv = f.function().update(u).schedule().rvars();
    const int64_t *len =
        rv.empty() ? nullptr : Internal::as_const_int(Internal::simplify(rv[0].extent));
    if (len && *len >= lanes)
      f.update(u).vectorize(RVar(rv[0].var), lanes, TailStrategy::GuardWithIf);
    else
      f.update(u).unscheduled(); // a scalar or short part
  }
}

/// A sum that only an output copies (LoweredKernel::copiedSums, on a CPU a
/// convolution whose rows are not whole vectors), computed a tile of the
/// copy at a time: a vector of columns (the row's last one shifted inwards,
/// so every vector is whole) times the reuse blocks (as many accumulators
/// as scheduleSum's blocks), all of them unrolled inside the reduction
/// loops, so the accumulators stay in registers for the whole sum and the
/// copy stores each result once. A tile's buffer is on the stack, indexed
/// by constants only, which LLVM keeps in registers (no stack loads
/// seen, AVX-512 or AVX2; on the heap, a tile's buffer would be a malloc
/// every few hundred multiply-adds). Threads over the output's two outermost
/// dimensions, as scheduleSum's.
void scheduleCopiedSum(Func copy, Func sum, const Shape &shape,
                       std::vector<std::pair<int, int>> reuse, int lanes,
                       int registers) {
  std::vector<Var> vars = copy.args(); // innermost first
  int last = int(shape.size()) - 1;
  // (A tile's row is one vector.)
  fitBlocks(reuse, [&](int dim) { return dim == last ? int64_t(1) : shape[dim]; },
            registers);
  Var xo("xo"), xi("xi");
  copy.split(vars[0], xo, xi, lanes, TailStrategy::ShiftInwards).vectorize(xi);
  std::vector<VarOrRVar> inner{xi}, outer{xo};
  std::vector<Var> split(vars.size());
  std::vector<int> tile(vars.size(), 1); // a tile's extents
  tile[0] = lanes;
  for (size_t h = 1; h < vars.size(); ++h)
    split[h] = vars[h];
  for (auto [dim, block] : reuse) {
    int h = last - dim;
    if (h == 0 || block <= 1 || shape[dim] % block != 0)
      continue;
    Var o(vars[h].name() + "_o"), i(vars[h].name() + "_i");
    copy.split(vars[h], o, i, block).unroll(i);
    inner.push_back(i);
    split[h] = o;
    tile[h] = block;
  }
  for (size_t h = 1; h < vars.size(); ++h)
    outer.push_back(split[h]);
  std::vector<VarOrRVar> order = inner;
  order.insert(order.end(), outer.begin(), outer.end());
  copy.reorder(order);
  Var fused("fused");
  if (vars.size() >= 2) {
    Var a = split[vars.size() - 2], b = split[vars.size() - 1];
    copy.fuse(a, b, fused).parallel(fused);
  }
  sum.compute_at(copy, xo).store_in(MemoryType::Stack);
  // (Halide does not see that the shifted tile is as wide as the others:
  // the extents are bounded, the splits round up to them.)
  std::vector<Var> sv = sum.args();
  for (size_t h = 0; h < sv.size(); ++h)
    sum.bound_extent(sv[h], tile[h]);
  Stage u = sum.update();
  std::vector<VarOrRVar> uorder(sv.begin(), sv.end());
  for (const RVar &r : sum.rvars(0))
    uorder.push_back(r);
  u.reorder(uorder);
  for (Stage st : {Stage(sum), u}) {
    st.vectorize(sv[0], lanes, TailStrategy::RoundUp);
    for (size_t h = 1; h < sv.size(); ++h)
      if (tile[h] > 1)
        st.unroll(sv[h], tile[h], TailStrategy::RoundUp);
  }
  unrollShortReductions(sum);
}

/// Vectors for a stage computed a tile at a time: along its innermost
/// dimension or, for one value per coordinate, along the tile's
/// coordinates (`coords`, maybe fewer than a vector); none around an inline
/// sum (see scheduleForCpu).
void vectorizeInTile(Func f, const Shape &shape, const Var &coords, int lanes) {
  if (inlineReductionTerms(f) > 0)
    return;
  if (shape.size() == 1)
    f.vectorize(coords, lanes, TailStrategy::GuardWithIf);
  else if (shape.back() >= lanes)
    vectorizeInner(f, f.args()[0], shape.back(), lanes);
}

/// The loop over the tiles of a kernel run tile by tile (coordinateTiles):
/// its coordinates in chunks for the threads (the loop `chunks`), each
/// chunk in tiles of kCoordinateTile (the loop `tile`, in which every
/// per-coordinate stage of a tile is computed). It is one loop (Halide's
/// compute_with) for the per-coordinate outputs and for both definitions of
/// each tile's sums ([tile, ..], whose `coord` counts tiles). Returns the
/// output that owns the loop.
Func tileLoop(LoweredKernel &k, int64_t coords, int lanes, int registers,
              const Var &chunks, const Var &tile) {
  int64_t tiles = (coords + kCoordinateTile - 1) / kCoordinateTile;
  int64_t tilesPerChunk = (tiles + kChunks - 1) / kChunks;
  Func leader;
  Var rest("rest"), within("within");
  // (Loops fused must have the same names: the lowering names the
  // coordinate dimension of these Funcs `coord`.)
  for (auto &[f, shape] : k.stages) {
    if (!k.tiled.count(f.name()))
      continue;
    std::vector<Var> vars = f.args(); // innermost first
    f.split(vars.back(), chunks, rest, int(tilesPerChunk * kCoordinateTile),
            TailStrategy::GuardWithIf)
        .split(rest, tile, within, int(kCoordinateTile), TailStrategy::GuardWithIf);
    vectorizeInTile(f, shape, within, lanes);
    f.parallel(chunks);
    if (leader.defined())
      f.compute_with(leader, tile);
    else
      leader = f;
  }
  for (auto &[f, shape] : k.stages) {
    if (!k.tileSums.count(f.name()))
      continue;
    std::vector<Var> vars = f.args(); // innermost first
    Var coord = vars.back();
    auto tiled = [&](Stage st) {
      st.split(coord, chunks, rest, int(tilesPerChunk), TailStrategy::GuardWithIf)
          .split(rest, tile, within, 1)
          .parallel(chunks);
    };
    int64_t inner = shape.back();
    int rl = shape.size() > 1 ? tileSumLanes(inner, lanes, registers) : lanes;
    f.store_in(MemoryType::Heap);
    tiled(f);
    bool rowSplit = shape.size() > 1 && inner >= rl; // in vectors of rl
    bool vectorized = rowSplit && rl > 1;
    if (vectorized)
      vectorizeInner(f, vars[0], inner, rl);
    f.compute_with(leader, tile);
    // The sum over a tile's coordinates (the innermost loop) into a block
    // of accumulators in registers: a few vectors of a row, times a block
    // of rows (an outer product's [80, 24]: 3 x 8).
    Stage u = f.update();
    tiled(u);
    std::vector<VarOrRVar> order;
    int vectors = 1;
    if (rowSplit) {
      Var vo("vo"), vi("vi");
      u.split(vars[0], vo, vi, rl,
              inner % rl ? TailStrategy::GuardWithIf : TailStrategy::Auto);
      if (vectorized)
        u.vectorize(vi);
      order.push_back(vi);
      // Whole vectors: the row's (tileSumLanes); else at most 4.
      int64_t rowVectors = (inner + rl - 1) / rl;
      vectors = int(inner % rl == 0 && rowVectors <= registers - kLoadRegisters
                        ? rowVectors
                        : std::min<int64_t>(rowVectors, 4));
      Var voo("voo"), voi("voi");
      if (rowVectors > vectors) {
        u.split(vo, voo, voi, vectors, TailStrategy::GuardWithIf).unroll(voi);
        order.push_back(voi);
      } else {
        u.unroll(vo);
        order.push_back(vo);
      }
    }
    if (shape.size() > 2) { // rows
      Var ro("ro"), ri("ri");
      int64_t block = largestDivisor(shape[shape.size() - 2],
                                     std::max(1, (registers - kLoadRegisters) / vectors));
      u.split(vars[1], ro, ri, int(block)).unroll(ri);
      order.push_back(ri);
    }
    for (const RVar &r : f.rvars(0))
      order.push_back(r);
    u.reorder(order);
    u.compute_with(leader, tile);
  }
  return leader;
}

/// Sums a column at a time (LoweredKernel::columnSums) of one shape over
/// one region, none reading another, walk it in one loop nest: each one's
/// update is fused (compute_with) with the first's at its innermost
/// reduction loop, so that a term both read (batch norm's backward's two
/// sums of the gradient at a window's maximum, gathered) is loaded once.
/// Their schedules are the same (scheduleSum, from the shape alone).
void fuseColumnSums(LoweredKernel &k, const std::set<std::string> &inlined) {
  auto extents = [](Func f) {
    std::vector<int64_t> e;
    for (const RVar &r : f.rvars(0)) {
      const int64_t *n = Internal::as_const_int(Internal::simplify(r.extent()));
      e.push_back(n ? *n : -1);
    }
    return e;
  };
  // Whether neither reads the other, directly or through any Func.
  auto apart = [](Func a, Func b) {
    auto anything = [](const Internal::Function &) { return true; };
    auto reads = [&](Func f, Func g) {
      std::map<std::string, bool> memo;
      return readsAny(f.function(), [&](const std::string &n) { return n == g.name(); },
                      anything, memo);
    };
    return !reads(a, b) && !reads(b, a);
  };
  std::vector<std::pair<std::vector<Func>, Shape>> groups;
  for (auto &[f, shape] : k.stages) {
    if (!k.columnSums.count(f.name()) || inlined.count(f.name()))
      continue;
    auto group = std::find_if(groups.begin(), groups.end(), [&](auto &g) {
      return g.second == shape && extents(g.first.front()) == extents(f) &&
             std::all_of(g.first.begin(), g.first.end(),
                         [&](const Func &m) { return apart(m, f); });
    });
    if (group == groups.end()) {
      groups.push_back({{f}, shape});
      continue;
    }
    Func first = group->first.front();
    f.update().compute_with(first.update(), first.rvars(0).front());
    group->first.push_back(f);
  }
}

} // namespace

int64_t inlineReductionTerms(const Func &f) {
  // Looks through the Funcs computed in place (inlined) that f reads.
  struct Finder : Internal::IRGraphVisitor {
    int64_t terms = 0;
    std::set<std::string> seen;
    using IRGraphVisitor::visit;
    void visit(const Internal::Call *c) override {
      IRGraphVisitor::visit(c);
      if (c->call_type != Internal::Call::Halide || !c->func.defined() ||
          !seen.insert(c->name).second)
        return;
      // A stored Func (a sum or not) is a load here.
      Internal::Function fn(c->func);
      LoopLevel level = fn.schedule().compute_level(); // a copy, to inspect
      if (!level.lock().is_inlined())
        return;
      if (fn.has_update_definition()) {
        int64_t n = 1;
        for (const Internal::ReductionVariable &rv :
             fn.update(0).schedule().rvars()) {
          const int64_t *extent =
              Internal::as_const_int(Internal::simplify(rv.extent));
          n *= extent ? std::max<int64_t>(*extent, 1) : 1;
        }
        terms = std::max(terms, n);
      } else {
        for (const Expr &e : fn.definition().values())
          e.accept(this);
      }
    }
  } finder;
  for (const Expr &e : f.function().definition().values())
    e.accept(&finder);
  return finder.terms;
}

bool hasInlineReduction(const Func &f) { return inlineReductionTerms(f) > 0; }

size_t unrollShortReductions(Func f, int64_t maxTerms) {
  int64_t terms = 1;
  size_t unrolled = 0;
  for (const Internal::ReductionVariable &rv :
       f.function().update(0).schedule().rvars()) {
    const int64_t *extent = Internal::as_const_int(Internal::simplify(rv.extent));
    if (!extent || terms * *extent > maxTerms)
      break;
    f.update().unroll(RVar(rv.var));
    terms *= *extent;
    ++unrolled;
  }
  return unrolled;
}

void scheduleForCpu(const KernelGraph &graph, LoweredKernel &k,
                    const Target &target) {
  int lanes = target.natural_vector_size<float>();
  int registers = target.has_feature(Target::AVX512) ||
                          (target.arch == Target::ARM && target.bits == 64)
                      ? 32
                      : 16;
  auto isOutput = [&](const Func &f) {
    for (const Func &o : k.outputs)
      if (o.name() == f.name())
        return true;
    return false;
  };
  // Cheap stages recomputed where they are read, but in a mapped kernel
  // (whose tiles keep a tile of each stage in the cache) and the stages that
  // a sum with reuse hints reads: a convolution's padded input (in place,
  // its vector loads were selects on the borders, and the convolutions took
  // 1.3x to 2x their time) and a weight gradient's dy.
  std::set<std::string> inlined;
  if (!k.coordinateTiles) {
    std::set<std::string> keep;
    for (auto &[f, shape] : k.stages)
      if (k.reuse.count(f.name()))
        for (const Internal::Function &c : callees(f.function()))
          keep.insert(c.name());
    inlined = recompute(k, keep, kCpuRecompute);
  }
  // A mapped kernel: every stage with a coordinate dimension runs one tile
  // of coordinates at a time, in the tile loop, so that the next stage
  // reads a tile's values from the cache; the stages shared by all
  // coordinates (a weight laid out anew) are computed first, whole, and
  // the sums over the coordinates add up the tiles' sums after the loop.
  Var chunks("chunks"), tile("tile");
  Func leader;
  if (k.coordinateTiles)
    leader = tileLoop(k, graph.coords, lanes, registers, chunks, tile);
  std::map<std::string, Func> byName;
  std::set<std::string> copied; // sums that an output copies
  for (auto &[f, shape] : k.stages)
    byName[f.name()] = f;
  for (auto &[copyName, sumName] : k.copiedSums)
    copied.insert(sumName);
  for (auto &[f, shape] : k.stages) {
    if (inlined.count(f.name()) || copied.count(f.name()))
      continue;
    if (shape.empty() || k.tiled.count(f.name()) || k.tileSums.count(f.name()))
      continue; // tileLoop
    if (auto c = k.copiedSums.find(f.name()); c != k.copiedSums.end()) {
      scheduleCopiedSum(f, byName.at(c->second), shape, k.reuse.at(c->second),
                        lanes, registers);
      continue;
    }
    bool inTile = k.coordinateTiles && !isOutput(f) && shape.front() == graph.coords &&
                  !k.coordinateSums.count(f.name());
    std::vector<Var> vars = f.args(); // innermost first
    int64_t inner = shape.back(), outer = shape.front();
    // A stored stage is computed whole, even where its consumers read only
    // part of it (a slice): so its extents are static, and the vectors
    // below never reach outside them. In a tile, but for the coordinates.
    for (size_t d = 0; d + (inTile ? 1 : 0) < vars.size(); ++d)
      f.bound(vars[d], 0, int(shape[shape.size() - 1 - d]));
    // In a tile: allocated once per chunk of tiles, a tile's worth that
    // every tile reuses (allocating it per tile took 3.6% of Omniglot's
    // samples in malloc and free). But a sum's is allocated per tile: in
    // the folded buffer a block's accumulators sat at (coordinate % 64),
    // LLVM could not tell that they were distinct, and kept them in memory
    // (the cell's matrix products, 1.4x their time).
    if (inTile && f.has_update_definition())
      f.compute_at(leader, tile);
    else if (inTile)
      f.compute_at(leader, tile)
          .store_at(leader, chunks)
          .fold_storage(vars.back(), int(kCoordinateTile));
    // Halide 14 on x86 reads small stack buffers with 32-byte-aligned
    // vector loads without aligning them (crashes seen here): stored stages
    // live on the heap, and a stage is not vectorised around an inline
    // reduction, whose vector accumulator would be such a stack buffer.
    // Stored stages also get their innermost extent rounded up to whole
    // vectors: Halide 14 sometimes writes a guarded vector tail in full
    // (seen here: 88 floats stored into an 81-float buffer, a heap
    // corruption). Outputs are exact; their tails stay guarded.
    if (!isOutput(f)) {
      f.store_in(MemoryType::Heap);
      if (inner >= lanes)
        f.align_storage(vars[0], lanes);
    }
    if (k.pieceCopies.count(f.name())) {
      schedulePieceCopies(f, lanes);
      continue;
    }
    if (f.has_update_definition()) {
      auto reuse = k.reuse.find(f.name());
      std::vector<std::pair<int, int>> blocks;
      if (reuse != k.reuse.end())
        blocks = reuse->second;
      else if (k.columnSums.count(f.name()))
        blocks = {{int(shape.size()) - 1, 0}};
      auto chunk = k.reductionChunks.find(f.name());
      auto unroll = k.reductionUnroll.find(f.name());
      scheduleSum(f, shape, lanes, registers, k.coordinateSums.count(f.name()) > 0,
                  blocks, /*threads=*/!inTile,
                  chunk != k.reductionChunks.end() ? chunk->second : 0,
                  unroll != k.reductionUnroll.end() ? unroll->second : 0);
      continue;
    }
    if (inTile) {
      vectorizeInTile(f, shape, vars[0], lanes);
      continue;
    }
    // Work per element: a sum inside each (a batch-norm statistic, a bias
    // gradient: a few channels, each over N x H x W terms) counts its
    // terms, so that such a stage runs its channels on all the threads.
    int64_t terms = inlineReductionTerms(f);
    if (inner >= lanes && terms == 0)
      vectorizeInner(f, vars[0], inner, lanes);
    if (numElements(shape) * std::max<int64_t>(terms, 1) >= kParallelElements &&
        outer >= 2)
      parallelOuter(f, shape, lanes);
  }
  fuseColumnSums(k, inlined);
}

} // namespace lopt::codegen
