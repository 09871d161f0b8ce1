//===- Executor.cpp - run lopt functions with compiled Halide kernels -----===//
#include "codegen/Executor.h"
#include "codegen/KernelGraph.h"

#include "dialect/LoptOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>

using namespace mlir;

namespace lopt::codegen {

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

int addArg(KernelGraph &g, Value v, const Shape &shape) {
  KernelNode a;
  a.op = "arg";
  a.shape = shape;
  a.isInt = isIntTensor(v.getType());
  g.args.push_back(int(g.nodes.size()));
  g.nodes.push_back(a);
  return g.args.back();
}

} // namespace

/// Runs `op` alone through the interpreter (as a one-op function next to
/// the one being executed) and compares with the kernel's results.
bool HalideExecutor::checkOp(Operation *op,
                             llvm::DenseMap<Value, RtValue<float>> &env,
                             const std::vector<RtValue<float>> &got,
                             std::string &error) {
  auto module = op->getParentOfType<ModuleOp>();
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> argTypes(op->getOperandTypes());
  auto fn = b.create<func::FuncOp>(
      op->getLoc(), "__lopt_check",
      b.getFunctionType(argTypes, op->getResultTypes()));
  Block *block = fn.addEntryBlock();
  b.setInsertionPointToEnd(block);
  IRMapping map;
  map.map(op->getOperands(), block->getArguments());
  Operation *clone = b.clone(*op, map);
  b.create<func::ReturnOp>(op->getLoc(), clone->getResults());
  // The interpreter in float and in double: a kernel is wrong when it is
  // much further from the double result than float rounding in the
  // interpreter's own order is (sums that cancel lose digits either way).
  std::vector<RtValue<float>> args, want;
  std::vector<RtValue<double>> argsD, exact;
  for (Value v : op->getOperands()) {
    args.push_back(env[v]);
    argsD.push_back(env[v].cast<double>());
  }
  bool ok = interpret<float>(fn, args, want, error) &&
            interpret<double>(fn, argsD, exact, error);
  fn.erase();
  if (!ok)
    return false;
  for (size_t r = 0; r < want.size(); ++r) {
    const Tensor<float> &interp = want[r].f, &kernel = got[r].f;
    const Tensor<double> &ref = exact[r].f;
    double scale = 0, errKernel = 0, errInterp = 0;
    for (int64_t k = 0; k < ref.numel(); ++k) {
      scale = std::max(scale, std::fabs(ref[k]));
      errKernel = std::max(errKernel, std::fabs(kernel[k] - ref[k]));
      errInterp = std::max(errInterp, std::fabs(interp[k] - ref[k]));
    }
    if (errKernel > 10 * errInterp + checkTolerance * scale) {
      std::string loc;
      llvm::raw_string_ostream os(loc);
      op->getLoc().print(os);
      error = op->getName().getStringRef().str() + " at " + os.str() +
              ": result " + std::to_string(r) + " is " +
              std::to_string(errKernel) + " from the exact value (largest "
              "|value| " + std::to_string(scale) + "), the interpreter " +
              std::to_string(errInterp);
      return false;
    }
  }
  return true;
}

HalideExecutor::HalideExecutor()
    : compiler(std::make_unique<KernelCompiler>()) {}
HalideExecutor::~HalideExecutor() = default;
size_t HalideExecutor::numKernels() const { return compiler->numCompiled(); }
double HalideExecutor::compileSeconds() const {
  return compiler->compileSeconds();
}

bool HalideExecutor::run(func::FuncOp fn, ArrayRef<RtValue<float>> args,
                         std::vector<RtValue<float>> &results,
                         std::string &error) {
  llvm::DenseMap<Value, RtValue<float>> env;
  Block &body = fn.getBody().front();
  if (args.size() != body.getNumArguments()) {
    error = "wrong number of arguments";
    return false;
  }
  for (auto [i, a] : llvm::enumerate(body.getArguments()))
    env[a] = args[i];

  auto buffer = [](RtValue<float> &v) {
    KernelBuffer b;
    b.shape = v.shape();
    if (v.isInt)
      b.i = v.i.data.data();
    else
      b.f = v.f.data.data();
    return b;
  };

  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      results.clear();
      for (Value v : ret.getOperands())
        results.push_back(env[v]);
      return true;
    }
    // Identities and reshapes need no kernel.
    if (auto s = dyn_cast<StopGradientOp>(op)) {
      env[s.getY()] = env[s.getX()];
      continue;
    }
    if (auto r = dyn_cast<ReshapeOp>(op)) {
      RtValue<float> v = env[r.getX()];
      (v.isInt ? v.i.shape : v.f.shape) = shapeOf(r.getY());
      env[r.getY()] = std::move(v);
      continue;
    }
    KernelGraph g;
    llvm::DenseMap<Value, int> nodeOf;
    std::vector<KernelBuffer> in;
    if (auto map = dyn_cast<MapCellOp>(op)) {
      auto cell = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
          map, map.getCalleeAttr());
      g.coords = map.getCoords();
      Block &cb = cell.getBody().front();
      for (auto [i, a] : llvm::enumerate(cb.getArguments())) {
        nodeOf[a] = addArg(g, a, shapeOf(a));
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
      for (Value v : op.getOperands())
        in.push_back(buffer(env[v]));
    } else {
      // One kernel argument per distinct operand (an op may use a value
      // twice, as in mul %x, %x).
      for (Value v : op.getOperands())
        if (!nodeOf.count(v)) {
          nodeOf[v] = addArg(g, v, shapeOf(v));
          in.push_back(buffer(env[v]));
        }
      if (!addOpNode(&op, g, nodeOf, error))
        return false;
      for (Value r : op.getResults())
        g.results.push_back(nodeOf[r]);
    }
    std::vector<KernelBuffer> out;
    std::vector<RtValue<float>> outValues;
    for (Value r : op.getResults())
      outValues.emplace_back(Tensor<float>(shapeOf(r)));
    for (RtValue<float> &v : outValues)
      out.push_back(buffer(v));
    if (!compiler->run(g, in, out, error)) {
      error = op.getName().getStringRef().str() + ": " + error;
      return false;
    }
    if (checkTolerance >= 0 && !checkOp(&op, env, outValues, error))
      return false;
    for (auto [r, v] : llvm::zip(op.getResults(), outValues))
      env[r] = std::move(v);
  }
  error = "function has no return";
  return false;
}

} // namespace lopt::codegen
