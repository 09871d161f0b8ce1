//===- LoptOps.cpp - lopt op verifiers and folders ------------------------===//
#include "dialect/LoptOps.h"
#include "dialect/ShapeRules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace lopt;

namespace {
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

#include "dialect/LoptInterfaces.cpp.inc"

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
      getNewVar().getType() != getRunningVar().getType() ||
      getMean().getType() != getRunningMean().getType() ||
      getInvStd().getType() != getRunningVar().getType())
    return emitOpError() << "updated and used statistics must have the type "
                            "of the running statistics";
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
  int64_t support = getWays() * getShots(), ib = getInnerBatch();
  if (ib > support || support % ib != 0)
    return emitOpError() << "inner_batch " << ib
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
  if (batchOf(support) != int64_t(getInnerBatch()))
    return emitOpError() << "support learner batch " << batchOf(support)
                         << " differs from inner_batch " << getInnerBatch();
  int64_t q = getWays() * getQueries();
  if (batchOf(query) != q || (queryEval && batchOf(queryEval) != q))
    return emitOpError() << "query learner batch must be ways * queries = "
                         << q;
  return success();
}

//===----------------------------------------------------------------------===//
// Autodiff primitives
//===----------------------------------------------------------------------===//

namespace {
/// "expected a ... , got ..." when a shape differs from what a rule implies.
LogicalResult expectShape(Operation *op, StringRef what, const Shape &got,
                          const Shape &want) {
  if (got == want)
    return success();
  return op->emitOpError() << what << " must have shape "
                           << shapeToString(want) << ", got "
                           << shapeToString(got);
}

LogicalResult checkRank(Operation *op, StringRef what, Value v, int64_t rank) {
  if (int64_t(shapeOf(v).size()) == rank)
    return success();
  return op->emitOpError() << what << " must have rank " << rank << ", got "
                           << shapeToString(shapeOf(v));
}
} // namespace

LogicalResult Conv2DBackwardDataOp::verify() {
  if (failed(checkRank(*this, "dy", getDy(), 4)) ||
      failed(checkRank(*this, "weight", getWeight(), 4)) ||
      failed(checkRank(*this, "dx", getDx(), 4)))
    return failure();
  Shape dx = shapeOf(getDx()), w = shapeOf(getWeight());
  shape::Result fwd = shape::conv2d(dx, w, {w[0]}, getStride(), getPad());
  if (!fwd.ok())
    return emitOpError() << fwd.error;
  return expectShape(*this, "dy", shapeOf(getDy()), fwd.shape);
}

LogicalResult Conv2DBackwardFilterOp::verify() {
  if (failed(checkRank(*this, "x", getX(), 4)) ||
      failed(checkRank(*this, "dy", getDy(), 4)) ||
      failed(checkRank(*this, "dw", getDw(), 4)))
    return failure();
  Shape dw = shapeOf(getDw());
  shape::Result fwd =
      shape::conv2d(shapeOf(getX()), dw, {dw[0]}, getStride(), getPad());
  if (!fwd.ok())
    return emitOpError() << fwd.error;
  return expectShape(*this, "dy", shapeOf(getDy()), fwd.shape);
}

LogicalResult MaxPoolBackwardOp::verify() {
  shape::Result fwd =
      shape::maxpool(shapeOf(getX()), getKernel(), getStride());
  if (!fwd.ok())
    return emitOpError() << fwd.error;
  if (failed(expectShape(*this, "dy", shapeOf(getDy()), fwd.shape)))
    return failure();
  return expectShape(*this, "dx", shapeOf(getDx()), shapeOf(getX()));
}

LogicalResult MaxPoolGatherOp::verify() {
  if (failed(expectShape(*this, "g", shapeOf(getG()), shapeOf(getX()))))
    return failure();
  return checkRule(*this,
                   shape::maxpool(shapeOf(getX()), getKernel(), getStride()),
                   {getY()});
}

LogicalResult ReduceSumOp::verify() {
  Shape x = shapeOf(getX()), kept;
  ArrayRef<int64_t> dims = getDims();
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] < 0 || dims[i] >= int64_t(x.size()) ||
        (i && dims[i] <= dims[i - 1]))
      return emitOpError() << "dims must be increasing and within rank "
                           << x.size();
  for (int64_t d = 0; d < int64_t(x.size()); ++d)
    if (!llvm::is_contained(dims, d))
      kept.push_back(x[d]);
  return expectShape(*this, "result", shapeOf(getY()), kept);
}

LogicalResult BroadcastOp::verify() {
  Shape x = shapeOf(getX()), y = shapeOf(getY());
  ArrayRef<int64_t> dims = getDims();
  if (dims.size() != x.size())
    return emitOpError() << "needs one result dimension per operand "
                            "dimension";
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] < 0 || dims[i] >= int64_t(y.size()) ||
        (i && dims[i] <= dims[i - 1]) || y[dims[i]] != x[i])
      return emitOpError() << "operand " << shapeToString(x)
                           << " does not map to result " << shapeToString(y)
                           << " through dims";
  return success();
}

LogicalResult MatmulOp::verify() {
  if (failed(checkRank(*this, "a", getA(), 2)) ||
      failed(checkRank(*this, "b", getB(), 2)))
    return failure();
  Shape a = shapeOf(getA()), b = shapeOf(getB());
  if (getTransposeA())
    std::swap(a[0], a[1]);
  if (getTransposeB())
    std::swap(b[0], b[1]);
  if (a[1] != b[0])
    return emitOpError() << "inner dimensions differ: " << a[1] << " and "
                         << b[0];
  return expectShape(*this, "result", shapeOf(getC()), {a[0], b[1]});
}

LogicalResult LogSumExpOp::verify() {
  if (failed(checkRank(*this, "x", getX(), 2)))
    return failure();
  return expectShape(*this, "result", shapeOf(getY()), {shapeOf(getX())[0]});
}

LogicalResult OneHotOp::verify() {
  Shape y = shapeOf(getY());
  if (y.size() != 2 || y[0] != shapeOf(getLabels())[0])
    return emitOpError() << "result must be [" << shapeOf(getLabels())[0]
                         << ", classes]";
  return success();
}

LogicalResult ReshapeOp::verify() {
  if (cast<ShapedType>(getX().getType()).getElementType() !=
      cast<ShapedType>(getY().getType()).getElementType())
    return emitOpError() << "keeps the element type";
  if (numElements(shapeOf(getX())) != numElements(shapeOf(getY())))
    return emitOpError() << "cannot reshape " << shapeToString(shapeOf(getX()))
                         << " to " << shapeToString(shapeOf(getY()));
  return success();
}

namespace {
LogicalResult verifyBox(Operation *op, const Shape &whole, const Shape &box,
                        ArrayRef<int64_t> offsets) {
  if (whole.size() != box.size() || offsets.size() != whole.size())
    return op->emitOpError() << "offsets, operand and result need one rank";
  for (size_t d = 0; d < whole.size(); ++d)
    if (offsets[d] < 0 || offsets[d] + box[d] > whole[d])
      return op->emitOpError() << "box of " << shapeToString(box)
                               << " at dimension " << d << " offset "
                               << offsets[d] << " leaves "
                               << shapeToString(whole);
  return success();
}
} // namespace

LogicalResult SliceOp::verify() {
  return verifyBox(*this, shapeOf(getX()), shapeOf(getY()), getOffsets());
}

LogicalResult UnsliceOp::verify() {
  return verifyBox(*this, shapeOf(getY()), shapeOf(getG()), getOffsets());
}

LogicalResult PreprocessGradOp::verify() {
  if (getP().convertToDouble() <= 0)
    return emitOpError() << "p must be positive";
  if (failed(expectShape(*this, "g", shapeOf(getG()),
                         {2 * numElements(shapeOf(getX()))})))
    return failure();
  return expectShape(*this, "dx", shapeOf(getDx()), shapeOf(getX()));
}

LogicalResult LSTMGradOp::verify() {
  shape::Result r = shape::lstm(shapeOf(getX()), shapeOf(getH()),
                                shapeOf(getC()), shapeOf(getWeight()),
                                shapeOf(getBias()));
  if (!r.ok())
    return emitOpError() << r.error;
  for (Value v : {getDhNext(), getDcNext()})
    if (failed(expectShape(*this, "adjoint", shapeOf(v), r.shape)))
      return failure();
  for (auto [operand, result] :
       llvm::zip(ValueRange{getX(), getH(), getC(), getWeight(), getBias()},
                 getResults()))
    if (operand.getType() != result.getType())
      return emitOpError() << "each adjoint has its operand's type";
  return success();
}

LogicalResult AffineGradOp::verify() {
  shape::Result r = shape::affine(shapeOf(getX()), shapeOf(getWeight()),
                                  shapeOf(getG()));
  if (!r.ok())
    return emitOpError() << r.error;
  if (failed(expectShape(*this, "g", shapeOf(getG()), r.shape)))
    return failure();
  if (getDx().getType() != getX().getType() ||
      getDweight().getType() != getWeight().getType() ||
      getDbias().getType() != getG().getType())
    return emitOpError() << "each adjoint has its operand's type";
  return success();
}

LogicalResult MapCellOp::verify() {
  if (getMapped().size() != getInputs().size())
    return emitOpError() << "needs one 'mapped' flag per input";
  if (getCoords() < 1)
    return emitOpError() << "coords must be at least 1";
  if (auto reduced = getReduced(); reduced && reduced->size() != getNumResults())
    return emitOpError() << "needs one 'reduced' flag per result";
  return success();
}

bool MapCellOp::isReduced(unsigned result) {
  auto reduced = getReduced();
  return reduced && (*reduced)[result];
}

LogicalResult MapCellOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto fn = symbols.lookupNearestSymbolFrom<func::FuncOp>(*this, getCalleeAttr());
  if (!fn)
    return emitOpError() << "'" << getCallee() << "' does not name a function";
  FunctionType type = fn.getFunctionType();
  if (type.getNumInputs() != getInputs().size() ||
      type.getNumResults() != getNumResults())
    return emitOpError() << "'" << getCallee() << "' takes "
                         << type.getNumInputs() << " operands and returns "
                         << type.getNumResults();
  auto withCoords = [&](Type t) {
    Shape s{int64_t(getCoords())};
    auto r = cast<RankedTensorType>(t);
    s.insert(s.end(), r.getShape().begin(), r.getShape().end());
    return RankedTensorType::get(s, r.getElementType());
  };
  for (auto [i, in] : llvm::enumerate(getInputs())) {
    Type want = getMapped()[i] ? Type(withCoords(type.getInput(i)))
                               : type.getInput(i);
    if (in.getType() != want)
      return emitOpError() << "operand #" << i << " must be " << want;
  }
  for (auto [i, r] : llvm::enumerate(getResults())) {
    Type want = isReduced(i) ? type.getResult(i) : withCoords(type.getResult(i));
    if (r.getType() != want)
      return emitOpError() << "result #" << i << " must be " << want;
  }
  return success();
}
