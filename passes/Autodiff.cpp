//===- Autodiff.cpp - reverse-mode differentiation of lopt functions ------===//
#include "passes/Autodiff.h"

#include "dialect/LoptOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace lopt {

SmallVector<Value> inlineBody(OpBuilder &b, func::FuncOp callee,
                              ValueRange args) {
  IRMapping map;
  Block &body = callee.getBody().front();
  map.map(body.getArguments(), args);
  SmallVector<Value> results;
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        results.push_back(map.lookupOrDefault(v));
      break;
    }
    b.clone(op, map);
  }
  return results;
}

namespace {

bool isFloatTensor(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && isa<FloatType>(t.getElementType());
}

class ReverseSweep {
public:
  ReverseSweep(OpBuilder &b) : b(b) {}

  /// Adds `contribution` to the adjoint of `v`.
  void accumulate(Value v, Value contribution) {
    if (!contribution)
      return;
    auto it = adjoints.find(v);
    if (it == adjoints.end()) {
      adjoints[v] = contribution;
      return;
    }
    it->second = b.create<AddOp>(contribution.getLoc(), v.getType(),
                                 it->second, contribution);
  }
  Value adjoint(Value v) const { return adjoints.lookup(v); }

  /// The operands of a map_cell of `callee` that want an adjoint at some
  /// call: its VJP computes theirs at every call (one VJP function, and
  /// one kernel, per cell).
  llvm::DenseMap<Operation *, SmallVector<bool>> cellNeeds;

  /// Emits the VJP of `op`; `needed[i]` says whether operand i wants one.
  LogicalResult differentiate(Operation *op, ArrayRef<bool> needed) {
    SmallVector<Value> resultAdj;
    for (Value r : op->getResults())
      resultAdj.push_back(adjoint(r));
    SmallVector<Value> operandAdj;
    if (auto map = dyn_cast<MapCellOp>(op)) {
      if (failed(differentiateMapCell(map, resultAdj, operandAdj)))
        return failure();
    } else {
      auto rule = dyn_cast<DifferentiableOpInterface>(op);
      if (!rule)
        return op->emitOpError()
               << "has no derivative rule, but the differentiated value "
                  "depends on it";
      if (failed(rule.buildVJP(b, resultAdj, needed, operandAdj)))
        return failure();
    }
    for (auto [i, operand] : llvm::enumerate(op->getOperands()))
      if (needed[i] && i < operandAdj.size())
        accumulate(operand, operandAdj[i]);
    return success();
  }

private:
  /// d/d(inputs) of map_cell(@f): map_cell(@f.vjp) over the inputs and the
  /// result adjoints; a shared input's adjoint is summed over coordinates.
  /// Only the inputs' adjoints that some call of the cell needs
  /// (`cellNeeds`) are computed: where others are not (a first-order
  /// meta-gradient stops the learner's gradient and loss), the VJP function
  /// is @f.vjp.without_NAME.. (the cell arguments' names), which neither
  /// computes nor returns theirs.
  LogicalResult differentiateMapCell(MapCellOp op, ArrayRef<Value> resultAdj,
                                     SmallVectorImpl<Value> &operandAdj) {
    if (op.getReduced())
      return op.emitOpError() << "with reduced results cannot be "
                                 "differentiated (cells are differentiated "
                                 "once)";
    auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
        op, op.getCalleeAttr());
    SmallVector<bool> needed = cellNeeds.lookup(callee);
    needed.resize(callee.getNumArguments(), true); // (every call is noted)
    GradientSpec spec;
    std::string name = (callee.getSymName() + ".vjp").str();
    std::string without;
    for (unsigned i = 0; i < callee.getNumArguments(); ++i) {
      if (needed[i]) {
        spec.wrt.push_back(i);
        continue;
      }
      auto argName =
          callee.getArgAttrOfType<StringAttr>(i, LoptDialect::kNameAttr);
      without += "_" + (argName ? argName.str() : std::to_string(i));
    }
    if (!without.empty())
      name += ".without" + without;
    for (unsigned i = 0; i < callee.getNumResults(); ++i)
      spec.seeds.push_back(i);
    spec.seedsAsArguments = true;
    spec.kept.emplace(); // the cell's results are map_cell's
    FailureOr<func::FuncOp> vjp = buildGradient(callee, spec, name);
    if (failed(vjp))
      return failure();
    Location loc = op.getLoc();
    SmallVector<Value> inputs(op.getInputs());
    SmallVector<bool> mapped(op.getMapped());
    for (auto [r, given] : llvm::zip(op.getResults(), resultAdj)) {
      Value adj = given;
      if (!adj) {
        auto t = cast<RankedTensorType>(r.getType());
        adj = b.create<ConstantOp>(loc, t, DenseElementsAttr::get(t, 0.0f));
      }
      inputs.push_back(adj);
      mapped.push_back(true);
    }
    // Mapped operands get one adjoint per coordinate; shared operands (meta
    // weights, the loss) get theirs summed over the coordinates.
    SmallVector<Type> types;
    SmallVector<bool> reduced;
    for (unsigned i : spec.wrt) {
      types.push_back(
          RankedTensorType::get(shapeOf(op.getInputs()[i]), b.getF32Type()));
      reduced.push_back(!op.getMapped()[i]);
    }
    auto grads = b.create<MapCellOp>(
        loc, types, FlatSymbolRefAttr::get(vjp->getSymNameAttr()), inputs,
        op.getCoordsAttr(), b.getDenseBoolArrayAttr(mapped),
        b.getDenseBoolArrayAttr(reduced));
    operandAdj.assign(op.getInputs().size(), Value());
    for (auto [i, g] : llvm::zip(spec.wrt, grads.getResults()))
      operandAdj[i] = g;
    return success();
  }

  OpBuilder &b;
  llvm::DenseMap<Value, Value> adjoints;
};

} // namespace

FailureOr<func::FuncOp> buildGradient(func::FuncOp fn,
                                      const GradientSpec &spec,
                                      StringRef name) {
  auto module = fn->getParentOfType<ModuleOp>();
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;

  // Signature: the original arguments, then the seeds' adjoints if they are
  // arguments; results: the original ones if kept, then the adjoints.
  FunctionType type = fn.getFunctionType();
  SmallVector<Type> argTypes(type.getInputs());
  if (spec.seedsAsArguments)
    for (unsigned s : spec.seeds)
      argTypes.push_back(type.getResult(s));
  std::vector<unsigned> kept;
  if (spec.kept)
    kept = *spec.kept;
  else
    for (unsigned i = 0; i < type.getNumResults(); ++i)
      kept.push_back(i);
  SmallVector<Type> resultTypes;
  for (unsigned k : kept)
    resultTypes.push_back(type.getResult(k));
  for (unsigned w : spec.wrt)
    resultTypes.push_back(type.getInput(w));

  OpBuilder b(fn);
  b.setInsertionPointAfter(fn);
  auto grad = b.create<func::FuncOp>(fn.getLoc(), name,
                                     b.getFunctionType(argTypes, resultTypes));
  Block *block = grad.addEntryBlock();
  b.setInsertionPointToEnd(block);
  SmallVector<Value> results = inlineBody(
      b, fn, block->getArguments().take_front(type.getNumInputs()));

  // Activity: values that depend on a differentiated argument...
  llvm::DenseSet<Value> active;
  for (unsigned w : spec.wrt)
    active.insert(block->getArgument(w));
  SmallVector<Operation *> ops;
  for (Operation &op : *block)
    ops.push_back(&op);
  for (Operation *op : ops)
    if (!isa<StopGradientOp>(op) && // its derivative is zero
        llvm::any_of(op->getOperands(),
                     [&](Value v) { return active.contains(v); }))
      for (Value r : op->getResults())
        if (isFloatTensor(r))
          active.insert(r);
  // ...and that a seed depends on.
  llvm::DenseSet<Value> useful;
  for (unsigned s : spec.seeds)
    useful.insert(results[s]);
  for (Operation *op : llvm::reverse(ops))
    if (llvm::any_of(op->getResults(),
                     [&](Value v) { return useful.contains(v); }))
      for (Value v : op->getOperands())
        useful.insert(v);

  ReverseSweep sweep(b);
  auto wants = [&](Value v) { return active.contains(v) && useful.contains(v); };
  for (Operation *op : ops)
    if (auto map = dyn_cast<MapCellOp>(op);
        map && llvm::any_of(map->getResults(), wants)) {
      auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
          map, map.getCalleeAttr());
      SmallVector<bool> &need = sweep.cellNeeds[callee];
      need.resize(map.getInputs().size(), false);
      for (auto [i, v] : llvm::enumerate(map.getInputs()))
        need[i] = need[i] || wants(v);
    }
  Location loc = fn.getLoc();
  for (auto [i, s] : llvm::enumerate(spec.seeds)) {
    Value seed;
    if (spec.seedsAsArguments) {
      seed = block->getArgument(type.getNumInputs() + i);
    } else {
      auto t = cast<RankedTensorType>(results[s].getType());
      seed = b.create<ConstantOp>(loc, t, DenseElementsAttr::get(t, 1.0f));
    }
    if (active.contains(results[s]))
      sweep.accumulate(results[s], seed);
  }
  for (Operation *op : llvm::reverse(ops)) {
    if (llvm::none_of(op->getResults(),
                      [&](Value r) { return bool(sweep.adjoint(r)); }))
      continue;
    SmallVector<bool> needed;
    for (Value v : op->getOperands())
      needed.push_back(wants(v));
    if (llvm::none_of(needed, [](bool n) { return n; }))
      continue;
    if (failed(sweep.differentiate(op, needed))) {
      grad.erase();
      return failure();
    }
  }

  SmallVector<Value> returned;
  for (unsigned k : kept)
    returned.push_back(results[k]);
  for (unsigned w : spec.wrt) {
    Value a = sweep.adjoint(block->getArgument(w));
    if (!a) {
      auto t = cast<RankedTensorType>(type.getInput(w));
      a = b.create<ConstantOp>(loc, t, DenseElementsAttr::get(t, 0.0f));
    }
    returned.push_back(a);
  }
  b.create<func::ReturnOp>(loc, returned);
  // The forward's results that are neither returned nor read by the sweep
  // (results left out, values only the left-out results need).
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*block)))
    if (isOpTriviallyDead(&op))
      op.erase();
  return grad;
}

FailureOr<func::FuncOp> buildLossGradient(func::FuncOp fn,
                                          ArrayRef<StringRef> roles,
                                          StringRef name,
                                          ArrayRef<StringRef> droppedRoles) {
  GradientSpec spec;
  spec.seeds = {0};
  spec.kept.emplace();
  for (unsigned i = 0; i < fn.getNumResults(); ++i) {
    auto r = fn.getResultAttrOfType<StringAttr>(i, LoptDialect::kRoleAttr);
    if (!r || !llvm::is_contained(droppedRoles, r.getValue()))
      spec.kept->push_back(i);
  }
  for (unsigned i = 0; i < fn.getNumArguments(); ++i)
    if (auto r = fn.getArgAttrOfType<StringAttr>(i, LoptDialect::kRoleAttr);
        r && llvm::is_contained(roles, r.getValue()))
      spec.wrt.push_back(i);
  FailureOr<func::FuncOp> grad = buildGradient(fn, spec, name);
  if (failed(grad))
    return failure();
  OpBuilder b(fn);
  for (unsigned i = 0; i < fn.getNumArguments(); ++i)
    grad->setArgAttrs(i, fn.getArgAttrDict(i));
  SmallVector<Attribute> resultAttrs;
  for (unsigned k : *spec.kept) {
    DictionaryAttr d = fn.getResultAttrDict(k);
    resultAttrs.push_back(d ? d : b.getDictionaryAttr({}));
  }
  for (unsigned w : spec.wrt)
    resultAttrs.push_back(b.getDictionaryAttr(
        {b.getNamedAttr(LoptDialect::kRoleAttr, b.getStringAttr(role::kGrad)),
         b.getNamedAttr(LoptDialect::kNameAttr,
                        fn.getArgAttr(w, LoptDialect::kNameAttr))}));
  grad->setAllResultAttrs(ArrayRef<Attribute>(resultAttrs));
  (*grad)->setAttr(LoptDialect::kGradientOfAttr,
                   b.getStringAttr(fn.getSymName()));
  return grad;
}

} // namespace lopt
