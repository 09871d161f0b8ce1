//===- LoptOps.cpp - lopt op verifiers and folders ------------------------===//
#include "dialect/LoptOps.h"
#include "dialect/ShapeRules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace lopt;

namespace {
Shape shapeOf(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return Shape(t.getShape().begin(), t.getShape().end());
}

/// Turns a shape rule's verdict into a diagnostic, and checks the result
/// type the IR states against the shape the rule computes.
LogicalResult checkRule(Operation *op, const shape::Result &rule,
                        ArrayRef<Value> results) {
  if (!rule.ok())
    return op->emitOpError() << rule.error;
  for (Value r : results)
    if (shapeOf(r) != rule.shape)
      return op->emitOpError()
             << "result must have shape " << shapeToString(rule.shape)
             << ", got " << shapeToString(shapeOf(r));
  return success();
}
} // namespace

#define GET_OP_CLASSES
#include "dialect/LoptOps.cpp.inc"

LogicalResult Conv2DOp::verify() {
  return checkRule(*this,
                   shape::conv2d(shapeOf(getX()), shapeOf(getWeight()),
                                 shapeOf(getBias()), getStride(), getPad()),
                   {getY()});
}

LogicalResult BatchNormOp::verify() {
  if (getMode() != "train" && getMode() != "eval")
    return emitOpError() << "mode must be \"train\" or \"eval\", got \""
                         << getMode() << "\"";
  if (getEps().convertToDouble() <= 0)
    return emitOpError() << "eps must be positive";
  double m = getMomentum().convertToDouble();
  if (m < 0 || m > 1)
    return emitOpError() << "momentum must be in [0, 1]";
  if (failed(checkRule(*this,
                       shape::batchnorm(shapeOf(getX()), shapeOf(getGamma()),
                                        shapeOf(getBeta()),
                                        shapeOf(getRunningMean()),
                                        shapeOf(getRunningVar())),
                       {getY()})))
    return failure();
  if (getNewMean().getType() != getRunningMean().getType() ||
      getNewVar().getType() != getRunningVar().getType())
    return emitOpError() << "updated statistics must have the type of the "
                            "running statistics";
  return success();
}

LogicalResult MaxPoolOp::verify() {
  return checkRule(*this,
                   shape::maxpool(shapeOf(getX()), getKernel(), getStride()),
                   {getY()});
}

LogicalResult FlattenOp::verify() {
  return checkRule(*this, shape::flatten(shapeOf(getX())), {getY()});
}

LogicalResult LinearOp::verify() {
  return checkRule(*this,
                   shape::linear(shapeOf(getX()), shapeOf(getWeight()),
                                 shapeOf(getBias())),
                   {getY()});
}

LogicalResult CrossEntropyOp::verify() {
  return checkRule(*this,
                   shape::crossEntropy(shapeOf(getLogits()),
                                       shapeOf(getLabels())),
                   {getLoss()});
}

LogicalResult PreprocessOp::verify() {
  if (getP().convertToDouble() <= 0)
    return emitOpError() << "p must be positive";
  return checkRule(*this, shape::preprocess(shapeOf(getX())), {getY()});
}

LogicalResult ConcatOp::verify() {
  std::vector<Shape> parts;
  for (Value v : getInputs())
    parts.push_back(shapeOf(v));
  return checkRule(*this, shape::concat(parts), {getY()});
}

LogicalResult LSTMOp::verify() {
  return checkRule(*this,
                   shape::lstm(shapeOf(getX()), shapeOf(getH()),
                               shapeOf(getC()), shapeOf(getWeight()),
                               shapeOf(getBias())),
                   {getHNext(), getCNext()});
}

LogicalResult AffineOp::verify() {
  return checkRule(*this,
                   shape::affine(shapeOf(getX()), shapeOf(getWeight()),
                                 shapeOf(getBias())),
                   {getY()});
}

#define LOPT_BINARY_VERIFIER(OP)                                               \
  LogicalResult OP::verify() {                                                 \
    return checkRule(*this,                                                    \
                     shape::broadcast(shapeOf(getLhs()), shapeOf(getRhs())),   \
                     {getY()});                                                \
  }
LOPT_BINARY_VERIFIER(AddOp)
LOPT_BINARY_VERIFIER(SubOp)
LOPT_BINARY_VERIFIER(MulOp)
LOPT_BINARY_VERIFIER(DivOp)
LOPT_BINARY_VERIFIER(PowOp)
LOPT_BINARY_VERIFIER(MinOp)
LOPT_BINARY_VERIFIER(MaxOp)
#undef LOPT_BINARY_VERIFIER

LogicalResult ConstantOp::verify() {
  if (getValue().getType() != getY().getType())
    return emitOpError() << "value type " << getValue().getType()
                         << " differs from result type " << getY().getType();
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// EpisodeOp
//===----------------------------------------------------------------------===//

LogicalResult EpisodeOp::verify() {
  auto positive = [&](int64_t v, StringRef what) -> LogicalResult {
    if (v < 1)
      return emitOpError() << what << " must be at least 1, got " << v;
    return success();
  };
  if (failed(positive(getWays(), "ways")) ||
      failed(positive(getShots(), "shots")) ||
      failed(positive(getQueries(), "queries")) ||
      failed(positive(getSteps(), "steps")) ||
      failed(positive(getInnerBatch(), "inner_batch")))
    return failure();
  int64_t support = getWays() * getShots();
  if (getInnerBatch() > support || support % getInnerBatch() != 0)
    return emitOpError() << "inner_batch " << getInnerBatch()
                         << " must divide the support set size " << support;
  if (getInit() != "learned" && getInit() != "fixed" && getInit() != "random")
    return emitOpError()
           << "init must be \"learned\", \"fixed\" or \"random\"";
  StringRef mg = getMetaGradient();
  if (mg != "first_order" && mg != "full" && mg != "horizon")
    return emitOpError()
           << "meta_gradient must be \"first_order\", \"full\" or \"horizon\"";
  if (mg == "horizon" && (getHorizon() < 1 || getHorizon() > getSteps()))
    return emitOpError() << "horizon must be in [1, steps], got "
                         << getHorizon();
  if (getMetaOptimizer() != "adam")
    return emitOpError() << "meta_optimizer must be \"adam\"";
  if (getLr().convertToDouble() <= 0 || getClipNorm().convertToDouble() < 0)
    return emitOpError() << "lr must be positive and clip_norm not negative";
  if (getBnEval() != "running" && getBnEval() != "batch")
    return emitOpError() << "bn_eval must be \"running\" or \"batch\"";
  return success();
}

LogicalResult
EpisodeOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto lookup = [&](FlatSymbolRefAttr ref, StringRef tag,
                    func::FuncOp &out) -> LogicalResult {
    out = symbolTable.lookupNearestSymbolFrom<func::FuncOp>(*this, ref);
    if (!out)
      return emitOpError() << "'" << ref.getValue()
                           << "' does not name a function";
    if (!out->hasAttr(tag))
      return emitOpError() << "'" << ref.getValue() << "' is not tagged '"
                           << tag << "'";
    return success();
  };
  func::FuncOp cell, support, query, queryEval;
  if (failed(lookup(getCellAttr(), LoptDialect::kCellAttr, cell)) ||
      failed(lookup(getSupportAttr(), LoptDialect::kLearnerAttr, support)) ||
      failed(lookup(getQueryAttr(), LoptDialect::kLearnerAttr, query)))
    return failure();
  if (auto qe = getQueryEvalAttr())
    if (failed(lookup(qe, LoptDialect::kLearnerAttr, queryEval)))
      return failure();
  auto batchOf = [](func::FuncOp f) {
    auto b = f->getAttrOfType<IntegerAttr>(LoptDialect::kBatchAttr);
    return b ? b.getInt() : -1;
  };
  if (batchOf(support) != getInnerBatch())
    return emitOpError() << "support learner batch " << batchOf(support)
                         << " differs from inner_batch " << getInnerBatch();
  int64_t q = getWays() * getQueries();
  if (batchOf(query) != q || (queryEval && batchOf(queryEval) != q))
    return emitOpError() << "query learner batch must be ways * queries = "
                         << q;
  return success();
}
