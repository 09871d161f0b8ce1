//===- LoptVJP.cpp - vector-Jacobian rules of the lopt ops ----------------===//
//
// One rule per op. Notation: g is the adjoint of the result (dL/dy), and a
// rule returns dL/d(operand). Learner-side rules emit only differentiable
// ops, so the learner's backward graph can be differentiated again
// (`meta_gradient full`); cell-side rules may emit the fused *_grad ops.
// Each rule is checked against central finite differences in
// tests/unit/passes/VJPTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "dialect/LoptOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace lopt;

namespace {

/// Small emitters for the rules below.
class Emit {
public:
  Emit(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  RankedTensorType tensor(const Shape &s) {
    return RankedTensorType::get(s, b.getF32Type());
  }
  Value scalar(double v) {
    auto t = tensor({});
    return b.create<ConstantOp>(
        loc, t, DenseElementsAttr::get(t, llvm::ArrayRef<float>(float(v))));
  }
  Value zeros(const Shape &s) {
    auto t = tensor(s);
    return b.create<ConstantOp>(loc, t, DenseElementsAttr::get(t, 0.0f));
  }
  Value zerosLike(Value v) { return zeros(shapeOf(v)); }
  /// Result type of an elementwise op with scalar broadcast.
  Type joint(Value a, Value c) {
    return shapeOf(a).empty() ? c.getType() : a.getType();
  }
  Value add(Value a, Value c) { return b.create<AddOp>(loc, joint(a, c), a, c); }
  Value sub(Value a, Value c) { return b.create<SubOp>(loc, joint(a, c), a, c); }
  Value mul(Value a, Value c) { return b.create<MulOp>(loc, joint(a, c), a, c); }
  Value div(Value a, Value c) { return b.create<DivOp>(loc, joint(a, c), a, c); }
  Value pow(Value a, Value c) { return b.create<PowOp>(loc, joint(a, c), a, c); }
  Value neg(Value a) { return b.create<NegOp>(loc, a); }
  Value step(Value a) { return b.create<StepOp>(loc, a); }
  Value sqrt(Value a) { return b.create<SqrtOp>(loc, a); }
  Value abs(Value a) { return b.create<AbsOp>(loc, a); }
  /// 1 where v is zero, else 0: added to a denominator or a log's argument
  /// it turns the 0 * inf of a zero factor into 0 without changing any
  /// other element.
  Value isZero(Value v) { return sub(scalar(1.0), step(abs(v))); }
  Value sum(Value x, ArrayRef<int64_t> dims) {
    Shape kept, s = shapeOf(x);
    for (int64_t d = 0; d < int64_t(s.size()); ++d)
      if (!llvm::is_contained(dims, d))
        kept.push_back(s[d]);
    return b.create<ReduceSumOp>(loc, tensor(kept), x,
                                 b.getDenseI64ArrayAttr(dims));
  }
  Value broadcast(Value x, Type to, ArrayRef<int64_t> dims) {
    return b.create<BroadcastOp>(loc, to, x, b.getDenseI64ArrayAttr(dims));
  }
  Value reshape(Value x, Type to) { return b.create<ReshapeOp>(loc, to, x); }
  /// The adjoint of an operand that was broadcast from a scalar: the sum of
  /// the result adjoint over every element.
  Value unbroadcast(Value g, Value operand) {
    Shape gs = shapeOf(g);
    if (!shapeOf(operand).empty() || gs.empty())
      return g;
    SmallVector<int64_t> all;
    for (int64_t d = 0; d < int64_t(gs.size()); ++d)
      all.push_back(d);
    return sum(g, all);
  }

  OpBuilder &b;
  Location loc;
};

/// Dimensions of a batch-norm input other than the channel dimension 1.
SmallVector<int64_t> nonChannelDims(Value x) {
  SmallVector<int64_t> dims;
  for (int64_t d = 0; d < int64_t(shapeOf(x).size()); ++d)
    if (d != 1)
      dims.push_back(d);
  return dims;
}

/// Every rule starts with an empty adjoint per operand.
void init(SmallVectorImpl<Value> &adj, Operation *op) {
  adj.assign(op->getNumOperands(), Value());
}

LogicalResult notDifferentiable(Operation *op, StringRef operand) {
  return op->emitOpError() << "is not differentiable with respect to "
                           << operand;
}

} // namespace

//===----------------------------------------------------------------------===//
// Learner ops
//===----------------------------------------------------------------------===//

// y = conv(x, w) + b:  dx = conv_backward_data(g, w),
// dw = conv_backward_filter(x, g),  db[o] = sum_{n,i,j} g[n,o,i,j].
LogicalResult Conv2DOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                 ArrayRef<bool> need,
                                 SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  Value g = res[0];
  if (need[0])
    adj[0] = b.create<Conv2DBackwardDataOp>(getLoc(), getX().getType(), g,
                                            getWeight(), getStrideAttr(),
                                            getPadAttr());
  if (need[1])
    adj[1] = b.create<Conv2DBackwardFilterOp>(getLoc(), getWeight().getType(),
                                              getX(), g, getStrideAttr(),
                                              getPadAttr());
  if (need[2])
    adj[2] = e.sum(g, {0, 2, 3});
  return success();
}

// dx = conv_backward_data(dy, w) is bilinear in (dy, w), the transpose of
// conv in x:  d(dy) = conv(gx, w),  dw = conv_backward_filter(gx, dy).
LogicalResult Conv2DBackwardDataOp::buildVJP(OpBuilder &b,
                                             ArrayRef<Value> res,
                                             ArrayRef<bool> need,
                                             SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  Value g = res[0];
  if (need[0]) {
    Value zeroBias = e.zeros({shapeOf(getWeight())[0]});
    adj[0] = b.create<Conv2DOp>(getLoc(), getDy().getType(), g, getWeight(),
                                zeroBias, getStrideAttr(), getPadAttr());
  }
  if (need[1])
    adj[1] = b.create<Conv2DBackwardFilterOp>(getLoc(),
                                              getWeight().getType(), g,
                                              getDy(), getStrideAttr(),
                                              getPadAttr());
  return success();
}

// dw = conv_backward_filter(x, dy) is bilinear in (x, dy):
// dx = conv_backward_data(dy, gw),  d(dy) = conv(x, gw).
LogicalResult Conv2DBackwardFilterOp::buildVJP(OpBuilder &b,
                                               ArrayRef<Value> res,
                                               ArrayRef<bool> need,
                                               SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  Value g = res[0];
  if (need[0])
    adj[0] = b.create<Conv2DBackwardDataOp>(getLoc(), getX().getType(),
                                            getDy(), g, getStrideAttr(),
                                            getPadAttr());
  if (need[1]) {
    Value zeroBias = e.zeros({shapeOf(g)[0]});
    adj[1] = b.create<Conv2DOp>(getLoc(), getDy().getType(), getX(), g,
                                zeroBias, getStrideAttr(), getPadAttr());
  }
  return success();
}

// Training mode, per channel over the M = numel/C other elements:
//   xhat = (x - mean) inv,  inv = 1 / sqrt(var + eps),  y = gamma xhat + beta
//   dbeta = sum g,  dgamma = sum g xhat,  dxhat = g gamma,
//   dx = inv/M (M dxhat - sum dxhat - xhat sum(dxhat xhat))
//      = gamma inv/M (M g - sum g - xhat sum(g xhat)):
// two sums over the batch. mean and inv are the op's own results (what it
// normalised with), so the backward does not sum the batch again; their
// adjoints (second order, where a backward is differentiated) add
//   dx += dmean / M + (x - mean) (-dinv inv^3 / M).
// Evaluation mode (running mean/var are constants):
//   dx = g gamma inv_r,  dgamma = sum g xhat_r,  dbeta = sum g.
// The running statistics are buffers, constants for the derivative: they
// get no adjoint, and the adjoints of the updated statistics are dropped,
// as are those of mean and inv in evaluation mode (they are the running
// statistics). (Meta-losses use training mode, which does not read them.)
LogicalResult BatchNormOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                    ArrayRef<bool> need,
                                    SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  bool train = getMode() == "train";
  Value g = res[0];
  Value dMean = train ? res[3] : Value(), dInv = train ? res[4] : Value();
  if (!g && !dMean && !dInv)
    return success(); // only the running statistics are used downstream
  Value x = getX();
  Type xt = x.getType();
  SmallVector<int64_t> dims = nonChannelDims(x);
  double m = double(numElements(shapeOf(x)) / shapeOf(x)[1]);
  auto perChannel = [&](Value v) { return e.broadcast(v, xt, {1}); };
  Value mean = getMean(), inv = getInvStd();
  Value xc = e.sub(x, perChannel(mean));

  Value dx;
  if (g) {
    Value xhat = e.mul(xc, perChannel(inv));
    Value sumG = need[2] || (need[0] && train) ? e.sum(g, dims) : Value();
    Value sumGX =
        need[1] || (need[0] && train) ? e.sum(e.mul(g, xhat), dims) : Value();
    if (need[2])
      adj[2] = sumG;
    if (need[1])
      adj[1] = sumGX;
    Value scale = e.mul(getGamma(), inv);
    if (need[0] && !train)
      dx = e.mul(g, perChannel(scale));
    if (need[0] && train) {
      Value centred = e.sub(e.mul(g, e.scalar(m)), perChannel(sumG));
      Value proj = e.mul(xhat, perChannel(sumGX));
      dx = e.mul(perChannel(e.div(scale, e.scalar(m))), e.sub(centred, proj));
    }
  }
  if (need[0] && dMean) {
    Value t = perChannel(e.div(dMean, e.scalar(m)));
    dx = dx ? e.add(dx, t) : t;
  }
  if (need[0] && dInv) {
    Value inv3 = e.mul(inv, e.mul(inv, inv));
    Value t = e.mul(xc, perChannel(e.div(e.neg(e.mul(dInv, inv3)),
                                         e.scalar(m))));
    dx = dx ? e.add(dx, t) : t;
  }
  adj[0] = dx;
  return success();
}

// dx = g routed to each window's maximum.
LogicalResult MaxPoolOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                  ArrayRef<bool> need,
                                  SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (need[0])
    adj[0] = b.create<MaxPoolBackwardOp>(getLoc(), getX().getType(), getX(),
                                         res[0], getKernelAttr(),
                                         getStrideAttr());
  return success();
}

// dx = maxpool_backward(x, dy) is linear in dy (the argmax positions are
// locally constant in x): d(dy) = maxpool_gather(x, g), dx = 0.
LogicalResult MaxPoolBackwardOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                          ArrayRef<bool> need,
                                          SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (need[1])
    adj[1] = b.create<MaxPoolGatherOp>(getLoc(), getDy().getType(), getX(),
                                       res[0], getKernelAttr(),
                                       getStrideAttr());
  return success();
}

// y = maxpool_gather(x, g_in) is linear in g_in: d(g_in) = maxpool_backward(x,
// g), dx = 0.
LogicalResult MaxPoolGatherOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                        ArrayRef<bool> need,
                                        SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (need[1])
    adj[1] = b.create<MaxPoolBackwardOp>(getLoc(), getX().getType(), getX(),
                                         res[0], getKernelAttr(),
                                         getStrideAttr());
  return success();
}

// A reshape: dx = reshape(g).
LogicalResult FlattenOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                  ArrayRef<bool> need,
                                  SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (need[0])
    adj[0] = Emit(b, getLoc()).reshape(res[0], getX().getType());
  return success();
}

LogicalResult ReshapeOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                  ArrayRef<bool> need,
                                  SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (need[0])
    adj[0] = Emit(b, getLoc()).reshape(res[0], getX().getType());
  return success();
}

// y = x w^T + b:  dx = g w,  dw = g^T x,  db = sum_n g[n].
LogicalResult LinearOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                 ArrayRef<bool> need,
                                 SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  Value g = res[0];
  if (need[0])
    adj[0] = b.create<MatmulOp>(getLoc(), getX().getType(), g, getWeight(),
                                b.getBoolAttr(false), b.getBoolAttr(false));
  if (need[1])
    adj[1] = b.create<MatmulOp>(getLoc(), getWeight().getType(), g, getX(),
                                b.getBoolAttr(true), b.getBoolAttr(false));
  if (need[2])
    adj[2] = e.sum(g, {0});
  return success();
}

// C = op(a) op(b):  d op(a) = g op(b)^T,  d op(b) = op(a)^T g, transposed
// back where the operand was transposed.
LogicalResult MatmulOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                 ArrayRef<bool> need,
                                 SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  Value g = res[0], A = getA(), B = getB();
  bool ta = getTransposeA(), tb = getTransposeB();
  auto mm = [&](Type t, Value l, Value r, bool tl, bool tr) -> Value {
    return b.create<MatmulOp>(getLoc(), t, l, r, b.getBoolAttr(tl),
                              b.getBoolAttr(tr));
  };
  if (need[0])
    adj[0] = !ta ? mm(A.getType(), g, B, false, !tb)   // g op(b)^T
                 : mm(A.getType(), B, g, tb, true);    // (g op(b)^T)^T
  if (need[1])
    adj[1] = !tb ? mm(B.getType(), A, g, !ta, false)   // op(a)^T g
                 : mm(B.getType(), g, A, true, ta);    // (op(a)^T g)^T
  return success();
}

// L = (1/N) sum_n (lse(z_n) - z_n[label_n]):
//   dz = g (softmax(z) - onehot(labels)) / N,  softmax = exp(z - lse(z)).
LogicalResult CrossEntropyOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                       ArrayRef<bool> need,
                                       SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  if (need[1])
    return notDifferentiable(*this, "its labels");
  if (!need[0])
    return success();
  Value z = getLogits();
  Shape zs = shapeOf(z);
  Value lse = b.create<LogSumExpOp>(getLoc(), e.tensor({zs[0]}), z);
  Value softmax = b.create<ExpOp>(
      getLoc(), e.sub(z, e.broadcast(lse, z.getType(), {0})));
  Value onehot = b.create<OneHotOp>(getLoc(), z.getType(), getLabels());
  adj[0] = e.mul(e.sub(softmax, onehot),
                 e.div(res[0], e.scalar(double(zs[0]))));
  return success();
}

// y_n = log sum_c exp(x_nc):  dx_nc = g_n exp(x_nc - y_n).
LogicalResult LogSumExpOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                    ArrayRef<bool> need,
                                    SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  if (!need[0])
    return success();
  Type xt = getX().getType();
  Value p = b.create<ExpOp>(getLoc(),
                            e.sub(getX(), e.broadcast(getY(), xt, {0})));
  adj[0] = e.mul(e.broadcast(res[0], xt, {0}), p);
  return success();
}

// Sum over dims: dx = g repeated along the summed dims.
LogicalResult ReduceSumOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                    ArrayRef<bool> need,
                                    SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (!need[0])
    return success();
  SmallVector<int64_t> kept;
  for (int64_t d = 0; d < int64_t(shapeOf(getX()).size()); ++d)
    if (!llvm::is_contained(getDims(), d))
      kept.push_back(d);
  adj[0] = Emit(b, getLoc()).broadcast(res[0], getX().getType(), kept);
  return success();
}

// Repeat along new dims: dx = g summed over them.
LogicalResult BroadcastOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                    ArrayRef<bool> need,
                                    SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (!need[0])
    return success();
  SmallVector<int64_t> summed;
  for (int64_t d = 0; d < int64_t(shapeOf(getY()).size()); ++d)
    if (!llvm::is_contained(getDims(), d))
      summed.push_back(d);
  adj[0] = Emit(b, getLoc()).sum(res[0], summed);
  return success();
}

// y = x[offsets + i]:  dx = g placed at offsets in zeros.
LogicalResult SliceOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                ArrayRef<bool> need,
                                SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (need[0])
    adj[0] = b.create<UnsliceOp>(getLoc(), getX().getType(), res[0],
                                 getOffsetsAttr());
  return success();
}

// The transpose of slice: dg = slice(g_out, offsets).
LogicalResult UnsliceOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                  ArrayRef<bool> need,
                                  SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (need[0])
    adj[0] = b.create<SliceOp>(getLoc(), getG().getType(), res[0],
                               getOffsetsAttr());
  return success();
}

// Piecewise-constant ops: zero derivative everywhere (almost everywhere).
LogicalResult StepOp::buildVJP(OpBuilder &, ArrayRef<Value>, ArrayRef<bool>,
                               SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  return success();
}
LogicalResult SignOp::buildVJP(OpBuilder &, ArrayRef<Value>, ArrayRef<bool>,
                               SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  return success();
}
// stop_gradient: the identity whose derivative is declared zero.
LogicalResult StopGradientOp::buildVJP(OpBuilder &, ArrayRef<Value>,
                                       ArrayRef<bool>,
                                       SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

#define LOPT_UNARY_VJP(OP, BODY)                                               \
  LogicalResult OP::buildVJP(OpBuilder &b, ArrayRef<Value> res,                \
                             ArrayRef<bool> need,                              \
                             SmallVectorImpl<Value> &adj) {                    \
    Emit e(b, getLoc());                                                       \
    init(adj, *this);                                                          \
    Value g = res[0], x = getX(), y = getY();                                  \
    (void)x;                                                                   \
    (void)y;                                                                   \
    if (need[0])                                                               \
      adj[0] = BODY;                                                           \
    return success();                                                          \
  }

LOPT_UNARY_VJP(NegOp, e.neg(g))                                   // d(-x) = -g
// g [x > 0] = g [y > 0]: reading y, which max-pooling's backward keeps
// anyway, lets x (a batch norm's output) die after the forward.
LOPT_UNARY_VJP(ReluOp, e.mul(g, e.step(y)))
LOPT_UNARY_VJP(SigmoidOp,                                         // g y (1 - y)
               e.mul(g, e.mul(y, e.sub(e.scalar(1.0), y))))
LOPT_UNARY_VJP(TanhOp,                                            // g (1 - y^2)
               e.mul(g, e.sub(e.scalar(1.0), e.mul(y, y))))
LOPT_UNARY_VJP(ExpOp, e.mul(g, y))                                // g e^x
LOPT_UNARY_VJP(LogOp, e.div(g, x))                                // g / x
LOPT_UNARY_VJP(AbsOp, e.mul(g, b.create<SignOp>(getLoc(), x)))    // g sign(x)
// g / (2 sqrt x); 0 where g = 0, also at x = 0 (Adam's v on a coordinate
// whose gradient is exactly zero).
LOPT_UNARY_VJP(SqrtOp,
               e.div(g, e.add(e.mul(e.scalar(2.0), y), e.isZero(g))))
LOPT_UNARY_VJP(SquareOp, e.mul(g, e.mul(e.scalar(2.0), x)))       // 2 g x
#undef LOPT_UNARY_VJP

/// Binary rules: `da`/`db` are the adjoints before summing away a scalar
/// operand's broadcast.
#define LOPT_BINARY_VJP(OP, DA, DB)                                            \
  LogicalResult OP::buildVJP(OpBuilder &b, ArrayRef<Value> res,                \
                             ArrayRef<bool> need,                              \
                             SmallVectorImpl<Value> &adj) {                    \
    Emit e(b, getLoc());                                                       \
    init(adj, *this);                                                          \
    Value g = res[0], a = getLhs(), c = getRhs(), y = getY();                  \
    (void)y;                                                                   \
    if (need[0])                                                               \
      adj[0] = e.unbroadcast(DA, a);                                           \
    if (need[1])                                                               \
      adj[1] = e.unbroadcast(DB, c);                                           \
    return success();                                                          \
  }

LOPT_BINARY_VJP(AddOp, g, g)                                  // d(a+b) = (g, g)
LOPT_BINARY_VJP(SubOp, g, e.neg(g))                           // (g, -g)
LOPT_BINARY_VJP(MulOp, e.mul(g, c), e.mul(g, a))              // (g b, g a)
LOPT_BINARY_VJP(DivOp, e.div(g, c),                           // (g/b, -g y/b)
                e.neg(e.div(e.mul(g, y), c)))
// (g b a^(b-1), g y ln a); the second is 0 where y = 0 (a = 0, b > 0).
LOPT_BINARY_VJP(PowOp,
                e.mul(g, e.mul(c, e.pow(a, e.sub(c, e.scalar(1.0))))),
                e.mul(g, e.mul(y, b.create<LogOp>(getLoc(),
                                                  e.add(a, e.isZero(y))))))
// min/max pick the first operand on ties (std::min / std::max).
LOPT_BINARY_VJP(MinOp, e.mul(g, e.sub(e.scalar(1.0), e.step(e.sub(a, c)))),
                e.mul(g, e.step(e.sub(a, c))))                // a wins iff a <= b
LOPT_BINARY_VJP(MaxOp, e.mul(g, e.sub(e.scalar(1.0), e.step(e.sub(c, a)))),
                e.mul(g, e.step(e.sub(c, a))))                // a wins iff a >= b
#undef LOPT_BINARY_VJP

//===----------------------------------------------------------------------===//
// Cell ops
//===----------------------------------------------------------------------===//

// Pairs (ln|x|/p, sign x) or (-1, e^p x):  dx = g_log/(p x) or g_sign e^p.
LogicalResult PreprocessOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                     ArrayRef<bool> need,
                                     SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  if (need[0])
    adj[0] = b.create<PreprocessGradOp>(getLoc(), getX().getType(), getX(),
                                        res[0], getPAttr());
  return success();
}

// The concatenation's adjoint, split back into the parts.
LogicalResult ConcatOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                 ArrayRef<bool> need,
                                 SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  int64_t offset = 0;
  for (auto [i, part] : llvm::enumerate(getInputs())) {
    int64_t n = numElements(shapeOf(part));
    if (need[i]) {
      Value s = b.create<SliceOp>(getLoc(), e.tensor({n}), res[0],
                                  b.getDenseI64ArrayAttr({offset}));
      adj[i] = shapeOf(part).empty() ? e.reshape(s, part.getType()) : s;
    }
    offset += n;
  }
  return success();
}

// The LSTM step's adjoints come from one fused op (lstm_grad).
LogicalResult LSTMOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                               ArrayRef<bool> need,
                               SmallVectorImpl<Value> &adj) {
  Emit e(b, getLoc());
  init(adj, *this);
  Value gh = res[0] ? res[0] : e.zerosLike(getHNext());
  Value gc = res[1] ? res[1] : e.zerosLike(getCNext());
  auto op = b.create<LSTMGradOp>(
      getLoc(),
      TypeRange{getX().getType(), getH().getType(), getC().getType(),
                getWeight().getType(), getBias().getType()},
      getX(), getH(), getC(), getWeight(), getBias(), gh, gc);
  for (unsigned i = 0; i < 5; ++i)
    if (need[i])
      adj[i] = op->getResult(i);
  return success();
}

// y = W x + b:  dx = W^T g,  dW = g x^T,  db = g.
LogicalResult AffineOp::buildVJP(OpBuilder &b, ArrayRef<Value> res,
                                 ArrayRef<bool> need,
                                 SmallVectorImpl<Value> &adj) {
  init(adj, *this);
  auto op = b.create<AffineGradOp>(
      getLoc(),
      TypeRange{getX().getType(), getWeight().getType(), getBias().getType()},
      getX(), getWeight(), res[0]);
  for (unsigned i = 0; i < 3; ++i)
    if (need[i])
      adj[i] = op->getResult(i);
  return success();
}
