//===- Program.cpp - a function as a straight-line kernel program ---------===//
#include "codegen/Program.h"

#include "dialect/LoptOps.h"
#include "interpreter/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <cstdio>
#include <set>

using namespace mlir;

namespace lopt::codegen {

bool isElementwise(const std::string &op) {
  static const std::set<std::string> ops = {
      "add",  "sub", "mul",  "div",  "neg",  "min",    "max",
      "pow",  "relu", "sigmoid", "tanh", "exp", "log", "abs",
      "sqrt", "sign", "square", "step"};
  return ops.count(op) > 0;
}

int KernelTable::intern(KernelGraph g) {
  std::string key = g.key();
  auto it = byKey.find(key);
  if (it != byKey.end())
    return it->second;
  kernels.push_back(std::move(g));
  return byKey[key] = int(kernels.size()) - 1;
}

std::string KernelTable::symbol(size_t i) const {
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (char c : kernels[i].key()) {
    h ^= uint8_t(c);
    h *= 1099511628211ull;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "lopt_%016llx", (unsigned long long)h);
  return buf;
}

namespace {

bool isIntTensor(Type t) {
  return !isa<FloatType>(cast<RankedTensorType>(t).getElementType());
}

/// The numeric and array attributes a kernel node needs, by op.
void copyAttributes(Operation *op, KernelNode &n) {
  for (NamedAttribute a : op->getAttrs()) {
    StringRef key = a.getName().getValue();
    if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
      n.num[key.str()] = double(i.getInt());
    else if (auto f = dyn_cast<FloatAttr>(a.getValue()))
      n.num[key.str()] = f.getValueAsDouble();
    else if (auto b = dyn_cast<BoolAttr>(a.getValue()))
      n.num[key.str()] = b.getValue() ? 1 : 0;
    else if (auto arr = dyn_cast<DenseI64ArrayAttr>(a.getValue()))
      n.ints[key.str()] = std::vector<int64_t>(arr.asArrayRef().begin(),
                                               arr.asArrayRef().end());
    else if (auto s = dyn_cast<StringAttr>(a.getValue()))
      n.str = s.str();
  }
}

/// Appends `op` as a node (and one extra node per further result) whose
/// operands are the nodes of `operands`; records the result nodes.
bool addOpNode(Operation *op, KernelGraph &g,
               llvm::DenseMap<Value, int> &nodeOf, std::string &error) {
  KernelNode n;
  n.op = op->getName().stripDialect().str();
  for (Value v : op->getOperands()) {
    auto it = nodeOf.find(v);
    if (it == nodeOf.end()) {
      error = "operand of " + n.op + " has no kernel value";
      return false;
    }
    n.inputs.push_back(it->second);
  }
  if (auto c = dyn_cast<ConstantOp>(op)) {
    auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
    if (!dense || !dense.isSplat()) {
      error = "only splat constants are compiled so far";
      return false;
    }
    n.num["value"] = dense.getSplatValue<APFloat>().convertToDouble();
  }
  copyAttributes(op, n);
  int first = int(g.nodes.size());
  for (auto [i, r] : llvm::enumerate(op->getResults())) {
    KernelNode rn = i == 0 ? n : KernelNode{};
    if (i > 0) {
      rn.op = "result";
      rn.result = int(i);
      rn.of = first;
    }
    rn.shape = shapeOf(r);
    rn.isInt = isIntTensor(r.getType());
    nodeOf[r] = int(g.nodes.size());
    g.nodes.push_back(rn);
  }
  return true;
}

int addArg(KernelGraph &g, Value v) {
  KernelNode a;
  a.op = "arg";
  a.shape = shapeOf(v);
  a.isInt = isIntTensor(v.getType());
  g.args.push_back(int(g.nodes.size()));
  g.nodes.push_back(a);
  return g.args.back();
}

/// Splat constants that every kernel reading them makes itself
/// (buildProgram): no step, no buffer.
using PerRunConstants = llvm::SmallPtrSet<Operation *, 16>;

/// Adds `v`, read by a kernel, to its graph: as a node of its own when it
/// is a constant of `perRun`, else as an argument (appended to
/// `operands`).
bool addInput(Value v, KernelGraph &g, llvm::DenseMap<Value, int> &nodeOf,
              std::vector<Value> &operands, const PerRunConstants &perRun,
              std::string &error) {
  if (nodeOf.count(v))
    return true;
  Operation *def = v.getDefiningOp();
  if (def && perRun.contains(def))
    return addOpNode(def, g, nodeOf, error);
  nodeOf[v] = addArg(g, v);
  operands.push_back(v);
  return true;
}

/// The kernel graph of one op: its cell's whole body for a map_cell, else
/// the op alone with one argument per distinct operand (an op may use a
/// value twice, as in mul %x, %x). `operands` gets the op's values in
/// kernel argument order (constants of `perRun` are nodes instead).
bool opGraph(Operation &op, KernelGraph &g, std::vector<Value> &operands,
             const PerRunConstants &perRun, std::string &error) {
  llvm::DenseMap<Value, int> nodeOf;
  if (auto map = dyn_cast<MapCellOp>(op)) {
    auto cell = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
        map, map.getCalleeAttr());
    g.coords = map.getCoords();
    Block &cb = cell.getBody().front();
    for (auto [i, a] : llvm::enumerate(cb.getArguments())) {
      nodeOf[a] = addArg(g, a);
      g.mapped.push_back(map.getMapped()[i]);
    }
    for (Operation &inner : cb) {
      if (auto ret = dyn_cast<func::ReturnOp>(inner)) {
        for (Value v : ret.getOperands())
          g.results.push_back(nodeOf[v]);
        break;
      }
      if (!addOpNode(&inner, g, nodeOf, error))
        return false;
    }
    for (unsigned r = 0; r < map.getNumResults(); ++r)
      g.reduced.push_back(map.isReduced(r));
    operands.assign(op.getOperands().begin(), op.getOperands().end());
    return true;
  }
  for (Value v : op.getOperands())
    if (!addInput(v, g, nodeOf, operands, perRun, error))
      return false;
  if (!addOpNode(&op, g, nodeOf, error))
    return false;
  for (Value r : op.getResults())
    g.results.push_back(nodeOf[r]);
  return true;
}

/// Cheap ops a run of which is fused into one kernel: element-wise ops,
/// broadcasts, splat constants, reduce_sums (a run may go on past a
/// reduce_sum: the lowering stores the sum a later op of the run reads,
/// as a stage of the kernel), max-pooling (a window's maximum: so a
/// normalised activation is pooled where it is made, never stored) and
/// its backward (a gradient scattered to each window's maximum: per
/// element, a test and a read; so the relu and batch-norm backward that
/// follow it read it in the same kernel, never from memory), and matmuls
/// (a linear layer's backward: its input's and weight's gradients and the
/// bias gradient read the loss gradient where the run computes it, one
/// kernel and, on a GPU, 3 launches a step where there were 4), and the
/// loss's ops, log-sum-exp, cross entropy and one-hot labels (the loss
/// and its gradient one kernel where they were five: on a GPU a step's
/// loss head takes 4 launches, 6 before (the first step's 8)).
bool isFusible(Operation *op) {
  if (auto c = dyn_cast<ConstantOp>(op)) {
    auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
    return dense && dense.isSplat();
  }
  if (!op->getDialect() || op->getDialect()->getNamespace() != "lopt")
    return false;
  std::string name = op->getName().stripDialect().str();
  return isElementwise(name) || name == "broadcast" || name == "reduce_sum" ||
         name == "maxpool" || name == "maxpool_backward" || name == "matmul" ||
         name == "logsumexp" || name == "cross_entropy" || name == "one_hot";
}

/// The most input channels of a weight gradient that joins the run making
/// the gradient it reads (an image's 3 colours, or 1).
constexpr int64_t kFusedFilterChannels = 4;

/// Ops that begin a run of fusible ops: batch norm (its statistics are
/// stages of the kernel; the element-wise ops and pooling after it read
/// its normalised result where it is computed) and concat (a flat
/// gradient's pieces, which the update's scaling then reads where they
/// are gathered: one launch, not two).
bool beginsRun(Operation *op) { return isa<BatchNormOp, ConcatOp>(op); }

/// The kernel graph of a run of ops (one op: opGraph). `operands` gets the
/// values the run reads from outside, `results` those it defines that are
/// used after it.
bool runGraph(const std::vector<Operation *> &run, KernelGraph &g,
              std::vector<Value> &operands, std::vector<Value> &results,
              const PerRunConstants &perRun, std::string &error) {
  if (run.size() == 1) {
    if (!opGraph(*run.front(), g, operands, perRun, error))
      return false;
    results.assign(run.front()->result_begin(), run.front()->result_end());
    return true;
  }
  llvm::DenseMap<Value, int> nodeOf;
  llvm::SmallPtrSet<Operation *, 16> inRun(run.begin(), run.end());
  for (Operation *op : run) {
    for (Value v : op->getOperands())
      if (!addInput(v, g, nodeOf, operands, perRun, error))
        return false;
    if (!addOpNode(op, g, nodeOf, error))
      return false;
  }
  for (Operation *op : run)
    for (Value r : op->getResults())
      if (llvm::any_of(r.getUsers(),
                       [&](Operation *u) { return !inRun.contains(u); })) {
        g.results.push_back(nodeOf[r]);
        results.push_back(r);
      }
  return true;
}

/// The first element of a slice of `in` (row-major) at `offsets` into
/// `out` when its elements are contiguous in `in`, else -1: below the
/// outermost dimension it narrows, it is whole; above it, one wide.
int64_t contiguousSlice(const Shape &in, const Shape &out,
                        ArrayRef<int64_t> offsets) {
  size_t d = 0;
  while (d < in.size() && out[d] == 1)
    ++d;
  for (size_t e = d + 1; e < in.size(); ++e)
    if (out[e] != in[e])
      return -1;
  int64_t first = 0;
  for (size_t e = 0; e < in.size(); ++e)
    first = first * in[e] + offsets[e];
  return first;
}

TensorInfo tensorInfo(const OperandInfo &o, Type t) {
  return {o.role, o.name, o.shape, isIntTensor(t), o.init};
}

} // namespace

bool buildProgram(func::FuncOp fn, KernelTable &table, Program &prog,
                  std::string &error, std::vector<Operation *> *stepOps,
                  const ProgramOptions &options) {
  prog = Program();
  prog.name = fn.getSymName().str();
  llvm::DenseMap<Value, int> slot;
  auto newSlot = [&](Value v) {
    int id = int(prog.values.size());
    prog.values.push_back({shapeOf(v), isIntTensor(v.getType()), id});
    slot[v] = id;
    return id;
  };
  // A view of `of` from its element `first` on.
  auto newView = [&](Value v, Value of, int64_t first) {
    const ProgramValue &base = prog.values[slot.at(of)];
    int storage = base.storage;
    int64_t offset = base.offset + first;
    prog.values.push_back({shapeOf(v), isIntTensor(v.getType()), storage, offset});
    slot[v] = int(prog.values.size()) - 1;
  };
  Block &body = fn.getBody().front();
  std::vector<OperandInfo> argInfo = describeArguments(fn);
  for (auto [i, a] : llvm::enumerate(body.getArguments())) {
    prog.args.push_back(newSlot(a));
    prog.argInfo.push_back(tensorInfo(argInfo[i], a.getType()));
  }
  // A scalar constant that only fusible ops read is made by each kernel
  // that reads it, where it is needed: in a run of its own, or as a result
  // of the first run that read it, it took a launch (one thread storing
  // it: a batch norm's element count, a loss's 1 / N) and a buffer, and
  // the first run's kernel differed from the later runs'. (Not a tensor:
  // a batch norm's first running mean, zeros, would make the first step's
  // kernel differ from the later steps', which read the previous step's.)
  PerRunConstants perRun;
  for (Operation &op : body)
    if (isa<ConstantOp>(op) && isFusible(&op) && !op.use_empty() &&
        shapeOf(op.getResult(0)).empty() &&
        llvm::all_of(op.getUsers(), [](Operation *u) {
          return isFusible(u) || beginsRun(u);
        }))
      perRun.insert(&op);
  // Runs of fusible ops (isFusible) become one kernel: only the values read
  // after the run are its results.
  std::vector<Operation *> run;
  llvm::SmallPtrSet<Operation *, 16> pulled; // into an earlier run
  auto flush = [&]() {
    if (run.empty())
      return true;
    // A later reduce_sum of a value this run makes joins it: the value
    // (an activation's gradient, whose sum is a bias gradient) need not
    // stay alive until the sum, nor be read again.
    if (isFusible(run.front()) || beginsRun(run.front())) {
      Operation *next = run.back()->getNextNode();
      llvm::SmallPtrSet<Operation *, 16> inRun(run.begin(), run.end());
      // (Apart, where the options say: a value that a later op other
      // than the sum reads is a result of the run anyway.)
      auto readAfter = [&](Value v, Operation *sum) {
        return llvm::any_of(v.getUsers(), [&](Operation *u) {
          return u != sum && !inRun.contains(u);
        });
      };
      for (Operation *op = next; op; op = op->getNextNode())
        if (auto sum = dyn_cast<ReduceSumOp>(op)) {
          Operation *def = sum.getX().getDefiningOp();
          if (def && inRun.contains(def) &&
              !(options.sumsOfResultsApart && readAfter(sum.getX(), op)) &&
              pulled.insert(op).second)
            run.push_back(op);
        }
      // A weight gradient right after the run, of a gradient that the run
      // makes and nothing after it reads (a first layer's: no gradient
      // flows on to the data), joins it too: that gradient, as large as
      // the layer's activations, is then computed where the weight
      // gradient reads it and never stored. Only for a few input channels:
      // a GPU thread of the weight gradient reads the gradient for one
      // input channel, so each of its elements is computed once per input
      // channel.
      // (Right after it: past the sums that this run or an earlier one
      // took in.)
      while (next && pulled.contains(next))
        next = next->getNextNode();
      if (auto dw = dyn_cast_or_null<Conv2DBackwardFilterOp>(next)) {
        Value dy = dw.getDy();
        if (shapeOf(dw.getX())[1] <= kFusedFilterChannels &&
            dy.getDefiningOp() && inRun.contains(dy.getDefiningOp()) &&
            llvm::all_of(dy.getUsers(), [&](Operation *u) {
              return u == next || llvm::is_contained(run, u);
            })) {
          pulled.insert(next);
          run.push_back(next);
        }
      }
    }
    KernelGraph g;
    std::vector<Value> operands, results;
    if (!runGraph(run, g, operands, results, perRun, error)) {
      error = run.front()->getName().getStringRef().str() + ": " + error;
      return false;
    }
    ProgramStep step;
    step.kernel = table.intern(std::move(g));
    for (Operation *op : run)
      step.op += (step.op.empty() ? "" : ", ") +
                 op->getName().stripDialect().str();
    if (auto map = dyn_cast<MapCellOp>(run.front()))
      step.op += " @" + map.getCallee().str();
    for (Value v : operands)
      step.inputs.push_back(slot.at(v));
    for (Value r : results)
      step.outputs.push_back(newSlot(r));
    prog.steps.push_back(std::move(step));
    if (stepOps)
      stepOps->push_back(run.size() == 1 ? run.front() : nullptr);
    run.clear();
    return true;
  };
  for (Operation &op : body) {
    if (pulled.contains(&op) || perRun.contains(&op))
      continue;
    if (beginsRun(&op) && !flush())
      return false;
    if (isFusible(&op) || beginsRun(&op)) {
      run.push_back(&op);
      continue;
    }
    if (!flush())
      return false;
    if (pulled.contains(&op))
      continue;
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      std::vector<OperandInfo> resultInfo = describeResults(fn);
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        prog.results.push_back(slot.at(v));
        prog.resultInfo.push_back(tensorInfo(resultInfo[i], v.getType()));
      }
      return true;
    }
    // Views of their operand: no kernel, no storage.
    if (auto s = dyn_cast<StopGradientOp>(op)) {
      newView(s.getY(), s.getX(), 0);
      continue;
    }
    if (auto r = dyn_cast<ReshapeOp>(op)) {
      newView(r.getY(), r.getX(), 0);
      continue;
    }
    if (auto f = dyn_cast<FlattenOp>(op)) {
      newView(f.getY(), f.getX(), 0);
      continue;
    }
    if (auto s = dyn_cast<SliceOp>(op)) {
      int64_t first = contiguousSlice(shapeOf(s.getX()), shapeOf(s.getY()),
                                      s.getOffsets());
      int64_t at = (prog.values[slot.at(s.getX())].offset + first) * 4;
      if (first >= 0 && at % options.viewAlignment == 0) {
        newView(s.getY(), s.getX(), first);
        continue;
      }
    }
    run.push_back(&op);
    if (!flush())
      return false;
  }
  error = "function has no return";
  return false;
}

double kernelFlops(const KernelGraph &g) {
  double total = 0;
  for (const KernelNode &n : g.nodes) {
    if (n.op == "arg" || n.op == "result" || n.op == "constant")
      continue;
    auto inShape = [&](size_t i) { return g.nodes[n.inputs[i]].shape; };
    double out = double(numElements(n.shape)), f;
    if (n.op == "conv2d") {
      Shape w = inShape(1); // [Co, Ci, kh, kw]
      f = 2 * out * double(w[1] * w[2] * w[3]);
    } else if (n.op == "conv2d_backward_filter") {
      Shape dy = inShape(1); // [N, Co, Ho, Wo]
      f = 2 * out * double(dy[0] * dy[2] * dy[3]);
    } else if (n.op == "conv2d_backward_data") {
      Shape w = inShape(1);
      f = 2 * out * double(w[0] * w[2] * w[3]);
    } else if (n.op == "matmul") {
      Shape a = inShape(0);
      f = 2 * out * double(n.num.at("transpose_a") != 0 ? a[0] : a[1]);
    } else if (n.op == "linear") {
      f = 2 * out * double(inShape(0)[1]);
    } else if (n.op == "lstm") {
      f = 2 * double(numElements(inShape(3))) + 10 * out;
    } else if (n.op == "lstm_grad") {
      f = 4 * double(numElements(inShape(3))) + 20 * out;
    } else if (n.op == "affine") {
      f = 2 * double(numElements(inShape(1)));
    } else if (n.op == "affine_grad") {
      f = 4 * double(numElements(inShape(1)));
    } else if (n.op == "reduce_sum" || n.op == "logsumexp" ||
               n.op == "cross_entropy" || n.op == "batchnorm" ||
               n.op == "maxpool" || n.op == "maxpool_backward" ||
               n.op == "maxpool_gather") {
      f = double(numElements(inShape(0))) * (n.op == "batchnorm" ? 4 : 1);
    } else if (n.op == "reshape" || n.op == "flatten" || n.op == "slice" ||
               n.op == "unslice" || n.op == "broadcast" ||
               n.op == "concat" || n.op == "one_hot" ||
               n.op == "stop_gradient") {
      f = 0;
    } else {
      f = out; // elementwise
    }
    total += f;
  }
  return total * double(g.coords > 0 ? g.coords : 1);
}

std::string kernelSummary(const KernelGraph &g) {
  std::string ops;
  const KernelNode *main = nullptr;
  int count = 0;
  for (const KernelNode &n : g.nodes)
    if (n.op != "arg" && n.op != "result" && n.op != "constant") {
      ops += (ops.empty() ? "" : ", ") + n.op;
      main = &n;
      ++count;
    }
  if (g.coords > 0)
    return "cell x " + std::to_string(g.coords) + " (" + ops + ")";
  if (count > 1)
    return "fused " + shapeToString(main->shape) + " (" + ops + ")";
  if (!main)
    return "constant";
  return main->op + " " + shapeToString(main->shape);
}

double programFlops(const Program &prog, const KernelTable &table) {
  double total = 0;
  std::vector<double> perKernel(table.kernels.size(), -1);
  for (const ProgramStep &s : prog.steps) {
    double &f = perKernel[s.kernel];
    if (f < 0)
      f = kernelFlops(table.kernels[s.kernel]);
    total += f;
  }
  return total;
}

int64_t slotBytes(const ProgramValue &v) {
  int64_t bytes = numElements(v.shape) * 4; // float or int32
  return (bytes + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment;
}

} // namespace lopt::codegen
