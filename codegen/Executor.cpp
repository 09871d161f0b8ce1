//===- Executor.cpp - run lopt functions with compiled Halide kernels -----===//
#include "codegen/Executor.h"
#include "codegen/KernelGraph.h"
#include "codegen/Program.h"

#include "dialect/LoptOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>

using namespace mlir;

namespace lopt::codegen {

/// Runs `op` alone through the interpreter (as a one-op function next to
/// the one being executed) and compares with the kernel's results.
bool HalideExecutor::checkOp(Operation *op,
                             const std::vector<RtValue<float>> &operands,
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
  for (const RtValue<float> &v : operands) {
    args.push_back(v);
    argsD.push_back(v.cast<double>());
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
  KernelTable table;
  Program prog;
  std::vector<Operation *> stepOps;
  if (!buildProgram(fn, table, prog, error, &stepOps))
    return false;
  if (args.size() != prog.args.size()) {
    error = "wrong number of arguments";
    return false;
  }
  // Slots hold their own copy; a view copies its storage's value when read.
  std::vector<RtValue<float>> slots(prog.values.size());
  for (size_t i = 0; i < args.size(); ++i)
    slots[prog.args[i]] = args[i];
  auto read = [&](int s) {
    const ProgramValue &pv = prog.values[s];
    RtValue<float> v = slots[pv.storage];
    auto view = [&](auto &t) {
      t.data.erase(t.data.begin(), t.data.begin() + pv.offset);
      t.data.resize(size_t(numElements(pv.shape)));
      t.shape = pv.shape;
    };
    if (v.isInt)
      view(v.i);
    else
      view(v.f);
    return v;
  };
  auto buffer = [](RtValue<float> &v) {
    KernelBuffer b;
    b.shape = v.shape();
    if (v.isInt)
      b.i = v.i.data.data();
    else
      b.f = v.f.data.data();
    return b;
  };
  for (size_t k = 0; k < prog.steps.size(); ++k) {
    const ProgramStep &step = prog.steps[k];
    std::vector<RtValue<float>> operands, outValues;
    std::vector<KernelBuffer> in, out;
    for (int s : step.inputs)
      operands.push_back(read(s));
    for (RtValue<float> &v : operands)
      in.push_back(buffer(v));
    for (int s : step.outputs) {
      const ProgramValue &v = prog.values[s];
      outValues.push_back(v.isInt ? RtValue<float>(Tensor<int32_t>(v.shape))
                                  : RtValue<float>(Tensor<float>(v.shape)));
    }
    for (RtValue<float> &v : outValues)
      out.push_back(buffer(v));
    if (!compiler->run(table.kernels[step.kernel], in, out, error)) {
      error = step.op + ": " + error;
      return false;
    }
    // Fused runs of ops (no single op) are not checked one by one.
    if (checkTolerance >= 0 && stepOps[k]) {
      // The interpreter takes the op's operands in operand order.
      std::vector<RtValue<float>> opArgs;
      auto map = dyn_cast<MapCellOp>(stepOps[k]);
      if (map) {
        opArgs = operands;
      } else {
        llvm::DenseMap<Value, RtValue<float>> byValue;
        for (auto [v, val] :
             llvm::zip(llvm::SetVector<Value>(stepOps[k]->getOperands().begin(),
                                              stepOps[k]->getOperands().end()),
                       operands))
          byValue[v] = val;
        for (Value v : stepOps[k]->getOperands())
          opArgs.push_back(byValue[v]);
      }
      if (!checkOp(stepOps[k], opArgs, outValues, error))
        return false;
    }
    for (auto [s, v] : llvm::zip(step.outputs, outValues))
      slots[s] = std::move(v);
  }
  results.clear();
  for (int s : prog.results)
    results.push_back(read(s));
  return true;
}

} // namespace lopt::codegen
