//===- UnrollEpisodes.cpp - one flat function per training episode --------===//
#include "passes/Autodiff.h"
#include "passes/Passes.h"

#include "dialect/LoptOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace lopt {
#define GEN_PASS_DEF_UNROLLEPISODES
#include "passes/Passes.h.inc"
} // namespace lopt

using namespace mlir;
using namespace lopt;

namespace {

StringRef argString(func::FuncOp fn, unsigned i, StringRef key) {
  auto s = fn.getArgAttrOfType<StringAttr>(i, key);
  return s ? s.getValue() : StringRef();
}
StringRef resultString(func::FuncOp fn, unsigned i, StringRef key) {
  DictionaryAttr d = fn.getResultAttrDict(i);
  auto s = d ? d.getAs<StringAttr>(key) : StringAttr();
  return s ? s.getValue() : StringRef();
}

/// Where one learner parameter lives in the flat parameter vector.
struct ParamSlot {
  std::string name;
  Shape shape;
  int64_t offset, size;
};

/// Builds @E.unrolled for one episode.
class Unroller {
public:
  Unroller(EpisodeOp ep, ModuleOp module)
      : ep(ep), module(module), b(ep.getContext()), loc(ep.getLoc()) {}

  LogicalResult run();

private:
  RankedTensorType tensor(const Shape &s) {
    return RankedTensorType::get(s, b.getF32Type());
  }
  Value constant(const Shape &s, float v) {
    return b.create<ConstantOp>(loc, tensor(s),
                                DenseElementsAttr::get(tensor(s), v));
  }
  Value stop(Value v) { return b.create<StopGradientOp>(loc, v); }
  /// Parameter `slot` viewed in its own shape inside the flat vector.
  Value paramView(Value theta, const ParamSlot &slot) {
    Value flat = b.create<SliceOp>(loc, tensor({slot.size}), theta,
                                   b.getDenseI64ArrayAttr({slot.offset}));
    return b.create<ReshapeOp>(loc, tensor(slot.shape), flat);
  }
  /// Rows b, b + n, b + 2n, ... of the support images and labels, as
  /// reshape [n*k, ...] -> [k, n, ...], slice, reshape.
  std::pair<Value, Value> innerBatch(Value x, Value y, int64_t batch,
                                     int64_t n);
  /// The learner's arguments in `fn`'s order.
  SmallVector<Value> learnerArgs(func::FuncOp fn, Value x, Value y,
                                 Value theta);
  /// Records the updated batch-norm statistics a learner returned.
  void updateBatchNorm(func::FuncOp fn, ArrayRef<Value> results);
  Value resultWithRole(func::FuncOp fn, ArrayRef<Value> results,
                       StringRef role);
  DictionaryAttr attrs(StringRef role, StringRef name,
                       DictionaryAttr init = {}) {
    SmallVector<NamedAttribute> f{
        b.getNamedAttr(LoptDialect::kRoleAttr, b.getStringAttr(role)),
        b.getNamedAttr(LoptDialect::kNameAttr, b.getStringAttr(name))};
    if (init)
      f.push_back(b.getNamedAttr(LoptDialect::kInitAttr, init));
    return b.getDictionaryAttr(f);
  }

  EpisodeOp ep;
  ModuleOp module;
  OpBuilder b;
  Location loc;
  std::vector<ParamSlot> slots;
  int64_t numCoords = 0;
  llvm::StringMap<Value> batchNorm; // running statistics by name
};

std::pair<Value, Value> Unroller::innerBatch(Value x, Value y, int64_t batch,
                                            int64_t n) {
  auto strided = [&](Value v) -> Value {
    auto t = cast<RankedTensorType>(v.getType());
    Shape s = shapeOf(v);
    int64_t k = s[0] / n;
    Shape split = s, one = s, out = s;
    split[0] = k;
    split.insert(split.begin() + 1, n);
    one[0] = k;
    one.insert(one.begin() + 1, 1);
    out[0] = k;
    SmallVector<int64_t> offsets(split.size(), 0);
    offsets[1] = batch;
    auto type = [&](const Shape &sh) {
      return RankedTensorType::get(sh, t.getElementType());
    };
    Value r = b.create<ReshapeOp>(loc, type(split), v);
    r = b.create<SliceOp>(loc, type(one), r, b.getDenseI64ArrayAttr(offsets));
    return b.create<ReshapeOp>(loc, type(out), r);
  };
  return {strided(x), strided(y)};
}

SmallVector<Value> Unroller::learnerArgs(func::FuncOp fn, Value x, Value y,
                                         Value theta) {
  SmallVector<Value> args;
  size_t p = 0;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    StringRef role = argString(fn, i, LoptDialect::kRoleAttr);
    if (role == role::kInput)
      args.push_back(x);
    else if (role == role::kLabels)
      args.push_back(y);
    else if (role == role::kParam)
      args.push_back(paramView(theta, slots[p++]));
    else
      args.push_back(batchNorm.lookup(argString(fn, i, LoptDialect::kNameAttr)));
  }
  return args;
}

void Unroller::updateBatchNorm(func::FuncOp fn, ArrayRef<Value> results) {
  for (unsigned i = 0; i < fn.getNumResults(); ++i)
    if (resultString(fn, i, LoptDialect::kRoleAttr) == role::kBnState)
      batchNorm[resultString(fn, i, LoptDialect::kNameAttr)] = results[i];
}

Value Unroller::resultWithRole(func::FuncOp fn, ArrayRef<Value> results,
                               StringRef role) {
  for (unsigned i = 0; i < fn.getNumResults(); ++i)
    if (resultString(fn, i, LoptDialect::kRoleAttr) == role)
      return results[i];
  return Value();
}

LogicalResult Unroller::run() {
  std::string name = (ep.getSymName() + ".unrolled").str();
  if (module.lookupSymbol(name))
    return success();
  auto lookup = [&](StringRef sym) {
    return module.lookupSymbol<func::FuncOp>(sym);
  };
  func::FuncOp support = lookup(ep.getSupport()), query = lookup(ep.getQuery());
  func::FuncOp queryEval =
      ep.getQueryEval() ? lookup(*ep.getQueryEval()) : func::FuncOp();
  func::FuncOp cell = lookup(ep.getCell());
  func::FuncOp supportGrad = lookup((ep.getSupport() + ".grad").str());
  if (!supportGrad)
    return ep.emitOpError() << "needs '" << ep.getSupport()
                            << ".grad': run lopt-differentiate-learners first";

  // The flat parameter vector: the learner's parameters in argument order.
  // Batch-norm statistics start each episode from their initialisers.
  b.setInsertionPointAfter(ep);
  for (unsigned i = 0; i < support.getNumArguments(); ++i) {
    StringRef role = argString(support, i, LoptDialect::kRoleAttr);
    Shape s = shapeOf(support.getArgumentTypes()[i]);
    if (role == role::kParam) {
      slots.push_back({argString(support, i, LoptDialect::kNameAttr).str(), s,
                       numCoords, numElements(s)});
      numCoords += numElements(s);
    }
  }

  // Arguments of @E.unrolled.
  int64_t ways = ep.getWays(), nk = ways * ep.getShots(),
          nq = ways * ep.getQueries(), ib = ep.getInnerBatch();
  Shape image = shapeOf(support.getArgumentTypes()[0]);
  Shape supportImages = image, queryImages = image;
  supportImages[0] = nk;
  queryImages[0] = nq;
  SmallVector<Type> argTypes{tensor(supportImages),
                             RankedTensorType::get({nk}, b.getI32Type()),
                             tensor(queryImages),
                             RankedTensorType::get({nq}, b.getI32Type()),
                             tensor({numCoords})};
  SmallVector<DictionaryAttr> argAttrs{
      attrs(role::kInput, "support_x"), attrs(role::kLabels, "support_y"),
      attrs(role::kInput, "query_x"), attrs(role::kLabels, "query_y"),
      attrs(ep.getInit() == "learned" ? role::kMeta : role::kParam, "theta0")};
  // Cell arguments beyond the parameter and the inputs become episode
  // arguments: states (one row per coordinate), meta-parameters.
  SmallVector<int> cellArgToEpisodeArg(cell.getNumArguments(), -1);
  for (unsigned i = 0; i < cell.getNumArguments(); ++i) {
    StringRef role = argString(cell, i, LoptDialect::kRoleAttr);
    StringRef n = argString(cell, i, LoptDialect::kNameAttr);
    Shape s = shapeOf(cell.getArgumentTypes()[i]);
    DictionaryAttr init =
        cell.getArgAttrOfType<DictionaryAttr>(i, LoptDialect::kInitAttr);
    if (role == role::kState || role == role::kMetaCoord) {
      s.insert(s.begin(), numCoords);
      argAttrs.push_back(attrs(role, ((role == role::kState ? "state." : "cell.") + n).str(), init));
    } else if (role == role::kMeta) {
      argAttrs.push_back(attrs(role, ("cell." + n).str(), init));
    } else {
      continue;
    }
    cellArgToEpisodeArg[i] = argTypes.size();
    argTypes.push_back(tensor(s));
  }

  auto fn = b.create<func::FuncOp>(loc, name, b.getFunctionType(argTypes, {}));
  Block *block = fn.addEntryBlock();
  b.setInsertionPointToEnd(block);
  Value supportX = block->getArgument(0), supportY = block->getArgument(1);
  Value theta = block->getArgument(4);
  llvm::StringMap<Value> states;
  for (unsigned i = 0; i < cell.getNumArguments(); ++i)
    if (argString(cell, i, LoptDialect::kRoleAttr) == role::kState)
      states[argString(cell, i, LoptDialect::kNameAttr)] =
          block->getArgument(cellArgToEpisodeArg[i]);
  for (unsigned i = 0; i < support.getNumArguments(); ++i) {
    if (argString(support, i, LoptDialect::kRoleAttr) != role::kBnState)
      continue;
    auto init =
        support.getArgAttrOfType<DictionaryAttr>(i, LoptDialect::kInitAttr);
    auto kind = init ? init.getAs<StringAttr>("kind") : StringAttr();
    float value = kind && kind.getValue() == "ones" ? 1.0f : 0.0f;
    batchNorm[argString(support, i, LoptDialect::kNameAttr)] =
        constant(shapeOf(support.getArgumentTypes()[i]), value);
  }

  StringRef policy = ep.getMetaGradient();
  int64_t steps = ep.getSteps(), batches = nk / ib;
  int64_t horizonStart = policy == "horizon" ? steps - ep.getHorizon() : -1;
  SmallVector<Value> stepLosses;
  for (int64_t t = 0; t < steps; ++t) {
    if (t == horizonStart && t > 0) {
      // Back-propagation stops here: theta and the cell state entering the
      // horizon are constants. (A horizon of all the steps stops nothing.)
      theta = stop(theta);
      for (auto &s : states)
        s.second = stop(s.second);
    }
    // Inner batch b = t mod (support / inner_batch) takes the examples b,
    // b + batches, b + 2 batches, ...: with a class-major support set every
    // inner batch spans the classes.
    Value x = supportX, y = supportY;
    if (batches > 1)
      std::tie(x, y) = innerBatch(supportX, supportY, t % batches, batches);
    SmallVector<Value> res =
        inlineBody(b, supportGrad, learnerArgs(support, x, y, theta));
    updateBatchNorm(supportGrad, res);
    Value loss = resultWithRole(supportGrad, res, role::kLoss);
    SmallVector<Value> flatGrads;
    for (unsigned i = 0; i < supportGrad.getNumResults(); ++i)
      if (resultString(supportGrad, i, LoptDialect::kRoleAttr) == role::kGrad)
        flatGrads.push_back(b.create<ReshapeOp>(
            loc, tensor({numElements(shapeOf(res[i]))}), res[i]));
    Value grad = b.create<ConcatOp>(loc, tensor({numCoords}), flatGrads);
    if (ep.getGradBatchDivide()) // the reference code's extra 1/batch
      grad = b.create<DivOp>(loc, grad.getType(), grad,
                             constant({}, float(ib)));
    stepLosses.push_back(loss);
    if (policy != "full") {
      // The paper's truncation: the learner's loss and gradient are inputs
      // of the meta-learner, not functions of its parameters.
      loss = stop(loss);
      grad = stop(grad);
    }

    // The cell on every coordinate.
    SmallVector<Value> operands;
    SmallVector<bool> mapped;
    for (unsigned i = 0; i < cell.getNumArguments(); ++i) {
      StringRef role = argString(cell, i, LoptDialect::kRoleAttr);
      StringRef n = argString(cell, i, LoptDialect::kNameAttr);
      Value v;
      bool isMapped = true;
      if (role == role::kParam) {
        v = theta;
      } else if (role == role::kInput && n == "grad") {
        v = grad;
      } else if (role == role::kInput && n == "loss") {
        v = loss;
        isMapped = false;
      } else if (role == role::kInput && n == "step") {
        v = constant({}, float(t + 1));
        isMapped = false;
      } else if (role == role::kState) {
        v = states[n];
      } else {
        v = block->getArgument(cellArgToEpisodeArg[i]);
        isMapped = role == role::kMetaCoord;
      }
      operands.push_back(v);
      mapped.push_back(isMapped);
    }
    SmallVector<Type> resultTypes;
    for (Type r : cell.getResultTypes()) {
      Shape s = shapeOf(r);
      s.insert(s.begin(), numCoords);
      resultTypes.push_back(tensor(s));
    }
    auto map = b.create<MapCellOp>(loc, resultTypes,
                                   FlatSymbolRefAttr::get(cell.getSymNameAttr()),
                                   operands, b.getI64IntegerAttr(numCoords),
                                   b.getDenseBoolArrayAttr(mapped),
                                   /*reduced=*/nullptr);
    for (unsigned r = 0; r < cell.getNumResults(); ++r) {
      StringRef role = resultString(cell, r, LoptDialect::kRoleAttr);
      if (role == role::kParam)
        theta = map.getResult(r);
      else
        states[resultString(cell, r, LoptDialect::kNameAttr)] =
            map.getResult(r);
    }
  }

  // The meta-loss: the query set at theta_T, batch statistics (training
  // mode); with running statistics also the evaluation-mode query.
  Value queryX = block->getArgument(2), queryY = block->getArgument(3);
  SmallVector<Value> q =
      inlineBody(b, query, learnerArgs(query, queryX, queryY, theta));
  SmallVector<Value> results{resultWithRole(query, q, role::kLoss),
                             resultWithRole(query, q, role::kLogits),
                             b.create<ConcatOp>(loc, tensor({steps}),
                                                stepLosses),
                             theta};
  SmallVector<DictionaryAttr> resultAttrs{
      attrs(role::kLoss, "meta_loss"), attrs(role::kLogits, "query_logits"),
      attrs(role::kMetric, "step_losses"), attrs(role::kParam, "theta")};
  if (queryEval) {
    SmallVector<Value> qe =
        inlineBody(b, queryEval, learnerArgs(queryEval, queryX, queryY, theta));
    results.push_back(resultWithRole(queryEval, qe, role::kLoss));
    results.push_back(resultWithRole(queryEval, qe, role::kLogits));
    resultAttrs.push_back(attrs(role::kEval, "query_eval_loss"));
    resultAttrs.push_back(attrs(role::kEval, "query_eval_logits"));
  }
  b.create<func::ReturnOp>(loc, results);
  SmallVector<Type> resultTypes;
  for (Value v : results)
    resultTypes.push_back(v.getType());
  fn.setFunctionType(b.getFunctionType(argTypes, resultTypes));
  fn.setAllArgAttrs(ArrayRef<DictionaryAttr>(argAttrs));
  fn.setAllResultAttrs(ArrayRef<DictionaryAttr>(resultAttrs));
  return success();
}

struct UnrollEpisodes : lopt::impl::UnrollEpisodesBase<UnrollEpisodes> {
  void runOnOperation() override {
    SmallVector<EpisodeOp> episodes(getOperation().getOps<EpisodeOp>());
    for (EpisodeOp ep : episodes)
      if (failed(Unroller(ep, getOperation()).run()))
        return signalPassFailure();
  }
};

} // namespace
