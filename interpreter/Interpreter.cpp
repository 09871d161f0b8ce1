//===- Interpreter.cpp - reference interpreter over lopt IR ---------------===//
#include "interpreter/Interpreter.h"
#include "interpreter/RefOps.h"

#include "dialect/LoptDialect.h"
#include "dialect/LoptOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace lopt {

namespace {
std::string describeOp(Operation *op) {
  std::string s = op->getName().getStringRef().str();
  if (auto l = dyn_cast<FileLineColLoc>(op->getLoc()))
    s += " at " + l.getFilename().str() + ":" + std::to_string(l.getLine()) +
         ":" + std::to_string(l.getColumn());
  return s;
}

template <typename T> class Evaluator {
public:
  Evaluator(std::string &error, StopGradientTape<T> *tape)
      : error(error), tape(tape) {}

  bool run(func::FuncOp fn, ArrayRef<RtValue<T>> args,
           std::vector<RtValue<T>> &results) {
    Block &body = fn.getBody().front();
    if (args.size() != body.getNumArguments()) {
      error = "function '" + fn.getSymName().str() + "' takes " +
              std::to_string(body.getNumArguments()) + " arguments, got " +
              std::to_string(args.size());
      return false;
    }
    for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
      Shape want = shapeOf(arg.getType());
      bool wantInt = !isa<FloatType>(
          cast<RankedTensorType>(arg.getType()).getElementType());
      if (args[i].shape() != want || args[i].isInt != wantInt) {
        auto name = fn.getArgAttrOfType<StringAttr>(i, LoptDialect::kNameAttr);
        error = "argument #" + std::to_string(i) +
                (name ? " ('" + name.getValue().str() + "')" : "") +
                " has shape " + shapeToString(args[i].shape()) +
                (args[i].isInt ? " (integer)" : "") + ", expected " +
                shapeToString(want) + (wantInt ? " (integer)" : "");
        return false;
      }
      env[arg] = args[i];
    }
    for (Operation &op : body) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        results.clear();
        for (Value v : ret.getOperands())
          results.push_back(env[v]);
        return true;
      }
      if (!step(&op))
        return false;
    }
    error = "function '" + fn.getSymName().str() + "' has no return";
    return false;
  }

private:
  const Tensor<T> &f(Value v) { return env[v].f; }
  void set(Value v, Tensor<T> t) { env[v] = RtValue<T>(std::move(t)); }

  bool step(Operation *op) {
    bool ok = true;
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](Conv2DOp o) {
          set(o.getY(), ref::conv2d(f(o.getX()), f(o.getWeight()),
                                    f(o.getBias()), o.getStride(), o.getPad()));
        })
        .Case([&](BatchNormOp o) {
          T eps = T(o.getEps().convertToDouble());
          Tensor<T> mean = f(o.getRunningMean()), var = f(o.getRunningVar());
          Tensor<T> used = mean, inv = var; // the statistics normalised with
          Tensor<T> y;
          if (o.getMode() == "train")
            y = ref::batchnormTrain(f(o.getX()), f(o.getGamma()),
                                    f(o.getBeta()), eps,
                                    T(o.getMomentum().convertToDouble()), mean,
                                    var, &used.data, &inv.data);
          else
            y = ref::batchnormEval(f(o.getX()), f(o.getGamma()),
                                   f(o.getBeta()), eps, mean, var);
          for (T &v : inv.data)
            v = T(1) / std::sqrt(v + eps);
          set(o.getY(), std::move(y));
          set(o.getNewMean(), std::move(mean));
          set(o.getNewVar(), std::move(var));
          set(o.getMean(), std::move(used));
          set(o.getInvStd(), std::move(inv));
        })
        .Case([&](MaxPoolOp o) {
          set(o.getY(), ref::maxpool2d(f(o.getX()), o.getKernel(),
                                       o.getStride()));
        })
        .Case([&](FlattenOp o) { set(o.getY(), ref::flatten(f(o.getX()))); })
        .Case([&](LinearOp o) {
          set(o.getY(),
              ref::linear(f(o.getX()), f(o.getWeight()), f(o.getBias())));
        })
        .Case([&](CrossEntropyOp o) {
          const Tensor<int32_t> &labels = env[o.getLabels()].i;
          int64_t classes = f(o.getLogits()).dim(1);
          for (int32_t l : labels.data)
            if (l < 0 || l >= classes) {
              error = "label " + std::to_string(l) + " is outside [0, " +
                      std::to_string(classes) + ") in " + describeOp(op);
              ok = false;
              return;
            }
          set(o.getLoss(),
              ref::scalar(ref::crossEntropy(f(o.getLogits()), labels)));
        })
        .Case([&](PreprocessOp o) {
          set(o.getY(), ref::preprocess(f(o.getX()),
                                        T(o.getP().convertToDouble())));
        })
        .Case([&](ConcatOp o) {
          std::vector<const Tensor<T> *> parts;
          for (Value v : o.getInputs())
            parts.push_back(&f(v));
          set(o.getY(), ref::concat(parts));
        })
        .Case([&](LSTMOp o) {
          auto [h, c] = ref::lstmCell(f(o.getX()), f(o.getH()), f(o.getC()),
                                      f(o.getWeight()), f(o.getBias()));
          set(o.getHNext(), std::move(h));
          set(o.getCNext(), std::move(c));
        })
        .Case([&](AffineOp o) {
          set(o.getY(),
              ref::affine(f(o.getX()), f(o.getWeight()), f(o.getBias())));
        })
        .Case([&](NegOp o) { set(o.getY(), ref::neg(f(o.getX()))); })
        .Case([&](ReluOp o) { set(o.getY(), ref::relu(f(o.getX()))); })
        .Case([&](SigmoidOp o) { set(o.getY(), ref::sigmoid(f(o.getX()))); })
        .Case([&](TanhOp o) { set(o.getY(), ref::tanh(f(o.getX()))); })
        .Case([&](ExpOp o) { set(o.getY(), ref::exp(f(o.getX()))); })
        .Case([&](LogOp o) { set(o.getY(), ref::log(f(o.getX()))); })
        .Case([&](AbsOp o) { set(o.getY(), ref::abs(f(o.getX()))); })
        .Case([&](SqrtOp o) { set(o.getY(), ref::sqrt(f(o.getX()))); })
        .Case([&](SignOp o) { set(o.getY(), ref::sign(f(o.getX()))); })
        .Case([&](SquareOp o) { set(o.getY(), ref::square(f(o.getX()))); })
        .Case([&](AddOp o) {
          set(o.getY(), ref::add(f(o.getLhs()), f(o.getRhs())));
        })
        .Case([&](SubOp o) {
          set(o.getY(), ref::sub(f(o.getLhs()), f(o.getRhs())));
        })
        .Case([&](MulOp o) {
          set(o.getY(), ref::mul(f(o.getLhs()), f(o.getRhs())));
        })
        .Case([&](DivOp o) {
          set(o.getY(), ref::div(f(o.getLhs()), f(o.getRhs())));
        })
        .Case([&](PowOp o) {
          set(o.getY(), ref::pow(f(o.getLhs()), f(o.getRhs())));
        })
        .Case([&](MinOp o) {
          set(o.getY(), ref::min(f(o.getLhs()), f(o.getRhs())));
        })
        .Case([&](MaxOp o) {
          set(o.getY(), ref::max(f(o.getLhs()), f(o.getRhs())));
        })
        .Case([&](ConstantOp o) {
          auto dense = cast<DenseElementsAttr>(o.getValue());
          Tensor<T> t(shapeOf(o.getType()));
          int64_t k = 0;
          for (APFloat v : dense.getValues<APFloat>())
            t[k++] = T(v.convertToFloat());
          set(o.getY(), std::move(t));
        })
        .Case([&](Conv2DBackwardDataOp o) {
          Shape dx = shapeOf(o.getDx());
          set(o.getDx(), ref::conv2dBackwardData(f(o.getDy()),
                                                 f(o.getWeight()), dx[2],
                                                 dx[3], o.getStride(),
                                                 o.getPad()));
        })
        .Case([&](Conv2DBackwardFilterOp o) {
          Shape dw = shapeOf(o.getDw());
          set(o.getDw(), ref::conv2dBackwardFilter(f(o.getX()), f(o.getDy()),
                                                   dw[2], dw[3],
                                                   o.getStride(), o.getPad()));
        })
        .Case([&](MaxPoolBackwardOp o) {
          set(o.getDx(), ref::maxpoolBackward(f(o.getX()), f(o.getDy()),
                                              o.getKernel(), o.getStride()));
        })
        .Case([&](MaxPoolGatherOp o) {
          set(o.getY(), ref::maxpoolGather(f(o.getX()), f(o.getG()),
                                           o.getKernel(), o.getStride()));
        })
        .Case([&](ReduceSumOp o) {
          set(o.getY(), ref::reduceSum(f(o.getX()),
                                       std::vector<int64_t>(o.getDims().begin(),
                                                            o.getDims().end())));
        })
        .Case([&](BroadcastOp o) {
          set(o.getY(),
              ref::broadcastInDim(f(o.getX()), shapeOf(o.getY()),
                                  std::vector<int64_t>(o.getDims().begin(),
                                                       o.getDims().end())));
        })
        .Case([&](MatmulOp o) {
          set(o.getC(), ref::matmul(f(o.getA()), f(o.getB()),
                                    o.getTransposeA(), o.getTransposeB()));
        })
        .Case([&](LogSumExpOp o) { set(o.getY(), ref::logsumexp(f(o.getX()))); })
        .Case([&](OneHotOp o) {
          const Tensor<int32_t> &labels = env[o.getLabels()].i;
          int64_t classes = shapeOf(o.getY())[1];
          for (int32_t l : labels.data)
            if (l < 0 || l >= classes) {
              error = "label " + std::to_string(l) + " is outside [0, " +
                      std::to_string(classes) + ") in " + describeOp(op);
              ok = false;
              return;
            }
          set(o.getY(), ref::oneHot<T>(labels, classes));
        })
        .Case([&](StepOp o) { set(o.getY(), ref::step(f(o.getX()))); })
        .Case([&](ReshapeOp o) {
          RtValue<T> y = env[o.getX()];
          (y.isInt ? y.i.shape : y.f.shape) = shapeOf(o.getY());
          env[o.getY()] = std::move(y);
        })
        .Case([&](SliceOp o) {
          std::vector<int64_t> offsets(o.getOffsets().begin(),
                                       o.getOffsets().end());
          const RtValue<T> &x = env[o.getX()];
          if (x.isInt)
            env[o.getY()] =
                RtValue<T>(ref::slice(x.i, offsets, shapeOf(o.getY())));
          else
            set(o.getY(), ref::slice(x.f, offsets, shapeOf(o.getY())));
        })
        .Case([&](UnsliceOp o) {
          set(o.getY(),
              ref::unslice(f(o.getG()),
                           std::vector<int64_t>(o.getOffsets().begin(),
                                                o.getOffsets().end()),
                           shapeOf(o.getY())));
        })
        .Case([&](StopGradientOp o) {
          if (!tape) {
            set(o.getY(), f(o.getX()));
          } else if (tape->mode == StopGradientTape<T>::Mode::Record) {
            tape->values[o] = f(o.getX());
            set(o.getY(), f(o.getX()));
          } else {
            auto it = tape->values.find(o);
            if (it == tape->values.end()) {
              error = "no recorded value for " + describeOp(o);
              ok = false;
              return;
            }
            set(o.getY(), it->second);
          }
        })
        .Case([&](PreprocessGradOp o) {
          set(o.getDx(), ref::preprocessGrad(f(o.getX()), f(o.getG()),
                                             T(o.getP().convertToDouble())));
        })
        .Case([&](LSTMGradOp o) {
          ref::LstmGrads<T> g = ref::lstmCellGrad(
              f(o.getX()), f(o.getH()), f(o.getC()), f(o.getWeight()),
              f(o.getBias()), f(o.getDhNext()), f(o.getDcNext()));
          set(o.getDx(), std::move(g.dx));
          set(o.getDh(), std::move(g.dh));
          set(o.getDc(), std::move(g.dc));
          set(o.getDweight(), std::move(g.dw));
          set(o.getDbias(), std::move(g.db));
        })
        .Case([&](AffineGradOp o) {
          ref::AffineGrads<T> g =
              ref::affineGrad(f(o.getX()), f(o.getWeight()), f(o.getG()));
          set(o.getDx(), std::move(g.dx));
          set(o.getDweight(), std::move(g.dw));
          set(o.getDbias(), std::move(g.db));
        })
        .Case([&](MapCellOp o) { ok = mapCell(o); })
        .Default([&](Operation *) {
          error = "the interpreter does not support " + describeOp(op);
          ok = false;
        });
    return ok;
  }

  /// Runs the callee once per coordinate: slice k of every mapped operand,
  /// shared operands whole; result k goes to row k of each result.
  bool mapCell(MapCellOp o) {
    auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
        o, o.getCalleeAttr());
    int64_t coords = o.getCoords();
    ArrayRef<bool> mapped = o.getMapped();
    std::vector<Tensor<T>> outs; // zeros: reduced results accumulate
    for (Value r : o.getResults())
      outs.emplace_back(shapeOf(r));
    std::vector<RtValue<T>> args(o.getInputs().size());
    for (auto [i, in] : llvm::enumerate(o.getInputs()))
      if (!mapped[i])
        args[i] = RtValue<T>(f(in));
      else
        args[i] = RtValue<T>(Tensor<T>(shapeOf(callee.getArgumentTypes()[i])));
    Evaluator<T> inner(error, nullptr);
    std::vector<RtValue<T>> results;
    for (int64_t k = 0; k < coords; ++k) {
      for (auto [i, in] : llvm::enumerate(o.getInputs())) {
        if (!mapped[i])
          continue;
        const Tensor<T> &whole = f(in);
        Tensor<T> &part = args[i].f;
        std::copy(whole.data.begin() + k * part.numel(),
                  whole.data.begin() + (k + 1) * part.numel(),
                  part.data.begin());
      }
      if (!inner.run(callee, args, results)) {
        error = "coordinate " + std::to_string(k) + " of " + describeOp(o) +
                ": " + error;
        return false;
      }
      for (size_t r = 0; r < outs.size(); ++r) {
        const Tensor<T> &part = results[r].f;
        if (o.isReduced(r))
          for (int64_t e = 0; e < part.numel(); ++e)
            outs[r][e] += part[e];
        else
          std::copy(part.data.begin(), part.data.end(),
                    outs[r].data.begin() + k * part.numel());
      }
    }
    for (size_t r = 0; r < outs.size(); ++r)
      set(o.getResult(r), std::move(outs[r]));
    return true;
  }

  std::string &error;
  StopGradientTape<T> *tape;
  llvm::DenseMap<Value, RtValue<T>> env;
};

InitSpec initSpec(DictionaryAttr d) {
  InitSpec s;
  if (auto k = d.getAs<StringAttr>("kind"))
    s.kind = k.str();
  auto num = [&](StringRef key) {
    auto f = d.getAs<FloatAttr>(key);
    return f ? f.getValueAsDouble() : 0.0;
  };
  if (s.kind == "constant")
    s.a = num("value");
  else if (s.kind == "uniform")
    s.a = num("low"), s.b = num("high");
  else if (s.kind == "normal")
    s.a = num("mean"), s.b = num("std");
  if (auto fan = d.getAs<IntegerAttr>("fan_in"))
    s.fanIn = fan.getInt();
  return s;
}

std::vector<OperandInfo> describe(func::FuncOp fn, bool results) {
  std::vector<OperandInfo> out;
  unsigned n = results ? fn.getNumResults() : fn.getNumArguments();
  for (unsigned i = 0; i < n; ++i) {
    DictionaryAttr d = results ? fn.getResultAttrDict(i) : fn.getArgAttrDict(i);
    OperandInfo info;
    info.shape = shapeOf(results ? fn.getResultTypes()[i]
                                     : fn.getArgumentTypes()[i]);
    if (d) {
      if (auto r = d.getAs<StringAttr>(LoptDialect::kRoleAttr))
        info.role = r.str();
      if (auto nm = d.getAs<StringAttr>(LoptDialect::kNameAttr))
        info.name = nm.str();
      if (auto init = d.getAs<DictionaryAttr>(LoptDialect::kInitAttr))
        info.init = initSpec(init);
    }
    out.push_back(std::move(info));
  }
  return out;
}
} // namespace

template <typename T>
bool interpret(func::FuncOp fn, ArrayRef<RtValue<T>> args,
               std::vector<RtValue<T>> &results, std::string &error,
               StopGradientTape<T> *tape) {
  return Evaluator<T>(error, tape).run(fn, args, results);
}

template bool interpret<float>(func::FuncOp, ArrayRef<RtValue<float>>,
                               std::vector<RtValue<float>> &, std::string &,
                               StopGradientTape<float> *);
template bool interpret<double>(func::FuncOp, ArrayRef<RtValue<double>>,
                                std::vector<RtValue<double>> &, std::string &,
                                StopGradientTape<double> *);

std::vector<OperandInfo> describeArguments(func::FuncOp fn) {
  return describe(fn, /*results=*/false);
}
std::vector<OperandInfo> describeResults(func::FuncOp fn) {
  return describe(fn, /*results=*/true);
}

} // namespace lopt
