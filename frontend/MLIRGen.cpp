//===- MLIRGen.cpp - lower the .lopt AST to the lopt dialect --------------===//
//
// Learners are instantiated per (batch size, batch-norm mode) as func.func
// with static shapes: repeat blocks are unrolled and every parameter becomes
// a function argument tagged with its role, name and initialiser. A cell is a
// func.func over ONE parameter coordinate; meta-parameters created by lstm()
// and affine() become arguments named after the assigned variable.
//
//===----------------------------------------------------------------------===//
#include "frontend/MLIRGen.h"
#include "dialect/LoptDialect.h"
#include "dialect/LoptOps.h"
#include "dialect/ShapeRules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

using namespace mlir;
using namespace lopt;
using llvm::SMLoc;

namespace {

/// A compile-time number: a definition parameter or a cell constant.
struct Const {
  double value = 0;
  bool isInt = false;
};
using Env = std::map<std::string, Const>;

/// Largest tensor a description may create (2^36 elements, 256 GiB of f32):
/// beyond it element counts stop being meaningful for a static graph.
constexpr double kMaxElements = double(int64_t(1) << 36);
bool tooLarge(const Shape &s) {
  double n = 1;
  for (int64_t d : s)
    n *= double(d);
  return n > kMaxElements;
}

/// Shortest natural rendering of a number for messages (2.5, 1e-05, 32).
std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// Operands and attributes of a function being built argument by argument.
struct FuncBuild {
  func::FuncOp fn;
  Block *block = nullptr;
  SmallVector<DictionaryAttr> argAttrs;
  SmallVector<Value> results;
  SmallVector<DictionaryAttr> resultAttrs;
};

/// What a name denotes inside a cell body.
enum class CellName { Input, Param, State, Meta, Local };

struct CellScope {
  FuncBuild fb;
  Env consts;
  std::map<std::string, Value> values;
  std::map<std::string, CellName> kinds;
  std::vector<std::string> stateOrder;
  std::map<std::string, Type> stateTypes;
  std::set<std::string> metaNames;
  bool paramAssigned = false;
  bool paramDeclared = false; // by `in param`
};

class Gen {
public:
  Gen(MLIRContext &ctx, const ModuleAST &ast, const llvm::SourceMgr &sm)
      : ctx(ctx), ast(ast), sm(sm), b(&ctx) {}

  OwningOpRef<ModuleOp> run();

private:
  Location loc(SMLoc l) {
    unsigned id = sm.FindBufferContainingLoc(l);
    if (!id)
      return UnknownLoc::get(&ctx);
    auto [line, col] = sm.getLineAndColumn(l, id);
    return FileLineColLoc::get(
        &ctx, sm.getMemoryBuffer(id)->getBufferIdentifier(), line, col);
  }
  InFlightDiagnostic error(SMLoc l) { return mlir::emitError(loc(l)); }

  // Compile-time numbers.
  LogicalResult evalConst(const Expr &e, const Env &env, Const &out);
  LogicalResult evalInt(const Expr &e, const Env &env, int64_t &out,
                        const Twine &what, int64_t min);
  LogicalResult evalNumber(const Expr &e, const Env &env, double &out);
  LogicalResult bindArgs(const Expr &call, ArrayRef<StringRef> names,
                         size_t required,
                         std::map<std::string, const Expr *> &out);
  LogicalResult bindParams(const std::vector<ParamDecl> &params,
                           const Expr *inst, StringRef what, StringRef name,
                           SMLoc where, Env &env);
  FailureOr<DictionaryAttr> genInit(const Expr &e, const Env &env,
                                    int64_t fanIn);
  LogicalResult checkInits(const Expr &call, ArrayRef<StringRef> allowed);
  FailureOr<DictionaryAttr> initFor(const Expr &call, StringRef which,
                                    const Env &env, int64_t fanIn,
                                    StringRef defaultKind, double lo = 0,
                                    double hi = 0);
  FailureOr<Shape> evalType(const TypeAST &t, const Env &env);

  // Function building.
  DictionaryAttr attrs(StringRef role, StringRef name = {},
                       DictionaryAttr init = {});
  Value addArg(FuncBuild &fb, Type type, DictionaryAttr attrs, Location l) {
    fb.argAttrs.push_back(attrs);
    return fb.block->addArgument(type, l);
  }
  void finish(FuncBuild &fb, Location l);
  RankedTensorType tensor(const Shape &s) {
    return RankedTensorType::get(s, b.getF32Type());
  }

  // Learners.
  FailureOr<func::FuncOp> genLearner(const LearnerAST &l, const Expr *inst,
                                     int64_t batch, StringRef bnMode,
                                     StringRef sym, SMLoc where);
  LogicalResult genLayer(const LayerAST &layer, FuncBuild &fb, Value &x,
                         const Env &env, StringRef bnMode,
                         std::map<std::string, int> &counters);

  // Cells.
  FailureOr<func::FuncOp> genCell(const CellAST &c, const Expr *inst,
                                  StringRef sym, SMLoc where);
  LogicalResult genCellStmt(const CellStmt &s, CellScope &scope,
                            StringRef cellName);
  FailureOr<Value> genValue(const Expr &e, CellScope &scope);
  FailureOr<Value> genBinary(char op, Value lhs, Value rhs, SMLoc where);
  Value constant(double v, Location l) {
    auto t = tensor({});
    return b.create<ConstantOp>(
        l, t, DenseElementsAttr::get(t, llvm::ArrayRef<float>(float(v))));
  }

  // Episodes.
  LogicalResult genEpisode(const EpisodeAST &e);

  const LearnerAST *findLearner(StringRef name) {
    for (auto &l : ast.learners)
      if (l->name == name)
        return l.get();
    return nullptr;
  }
  const CellAST *findCell(StringRef name) {
    for (auto &c : ast.cells)
      if (c->name == name)
        return c.get();
    return nullptr;
  }
  LogicalResult checkUniqueNames();

  MLIRContext &ctx;
  const ModuleAST &ast;
  const llvm::SourceMgr &sm;
  OpBuilder b;
  ModuleOp module;
};

//===----------------------------------------------------------------------===//
// Compile-time numbers and arguments
//===----------------------------------------------------------------------===//

LogicalResult Gen::evalConst(const Expr &e, const Env &env, Const &out) {
  switch (e.kind) {
  case Expr::Kind::Number:
    out = {e.number, e.isInteger};
    return success();
  case Expr::Kind::Name: {
    auto it = env.find(e.name);
    if (it == env.end())
      return error(e.loc) << "unknown name '" << e.name
                          << "': expected a number or a parameter";
    out = it->second;
    return success();
  }
  case Expr::Kind::Unary:
    if (failed(evalConst(*e.args[0], env, out)))
      return failure();
    out.value = -out.value;
    return success();
  case Expr::Kind::Binary: {
    Const l, r;
    if (failed(evalConst(*e.args[0], env, l)) ||
        failed(evalConst(*e.args[1], env, r)))
      return failure();
    bool ints = l.isInt && r.isInt;
    switch (e.op) {
    case '+': out = {l.value + r.value, ints}; break;
    case '-': out = {l.value - r.value, ints}; break;
    case '*': out = {l.value * r.value, ints}; break;
    case '/':
      if (r.value == 0)
        return error(e.loc) << "division by zero";
      out = {l.value / r.value, ints && std::fmod(l.value, r.value) == 0};
      break;
    case '^': out = {std::pow(l.value, r.value), ints && r.value >= 0}; break;
    }
    if (!std::isfinite(out.value))
      return error(e.loc) << "the value is not a finite number";
    return success();
  }
  case Expr::Kind::Call:
    return error(e.loc) << "expected a number, found a call to '" << e.name
                        << "'";
  }
  return failure();
}

LogicalResult Gen::evalInt(const Expr &e, const Env &env, int64_t &out,
                           const Twine &what, int64_t min) {
  Const c;
  if (failed(evalConst(e, env, c)))
    return failure();
  if (c.value != std::floor(c.value))
    return error(e.loc) << what << " must be an integer, got " << fmt(c.value);
  if (std::fabs(c.value) > 1e12)
    return error(e.loc) << what << " is too large: " << fmt(c.value);
  out = int64_t(c.value);
  if (out < min)
    return error(e.loc) << what << " must be at least " << min << ", got "
                        << out;
  return success();
}

LogicalResult Gen::evalNumber(const Expr &e, const Env &env, double &out) {
  Const c;
  if (failed(evalConst(e, env, c)))
    return failure();
  out = c.value;
  return success();
}

/// Matches a call's positional and named arguments against `names`; the
/// first `required` of them must be given.
LogicalResult Gen::bindArgs(const Expr &call, ArrayRef<StringRef> names,
                            size_t required,
                            std::map<std::string, const Expr *> &out) {
  if (call.args.size() > names.size()) {
    if (names.empty())
      return error(call.args[0]->loc)
             << "'" << call.name << "' takes no arguments";
    return error(call.args[names.size()]->loc)
           << "'" << call.name << "' takes at most " << names.size()
           << " arguments (" << llvm::join(names, ", ") << ")";
  }
  for (size_t i = 0; i < call.args.size(); ++i)
    out[names[i].str()] = call.args[i].get();
  for (const NamedArg &a : call.named) {
    if (!llvm::is_contained(names, a.name)) {
      if (names.empty())
        return error(a.loc) << "'" << call.name << "' takes no arguments";
      return error(a.loc) << "'" << call.name << "' has no argument '"
                          << a.name << "'; expected "
                          << llvm::join(names, ", ");
    }
    if (out.count(a.name))
      return error(a.loc) << "argument '" << a.name
                          << "' is given both by position and by name";
    out[a.name] = a.value.get();
  }
  for (size_t i = 0; i < required; ++i)
    if (!out.count(names[i].str()))
      return error(call.loc) << "'" << call.name << "' needs argument '"
                             << names[i] << "'";
  return success();
}

/// Gives every parameter of a learner or cell a value: from the
/// instantiation `inst` (a call such as conv4(classes = 5)), else its default.
LogicalResult Gen::bindParams(const std::vector<ParamDecl> &params,
                              const Expr *inst, StringRef what,
                              StringRef name, SMLoc where, Env &env) {
  std::map<std::string, const Expr *> given;
  if (inst) {
    SmallVector<StringRef> names;
    for (const ParamDecl &p : params)
      names.push_back(p.name);
    if (failed(bindArgs(*inst, names, 0, given)))
      return failure();
  }
  for (const ParamDecl &p : params) {
    Const c;
    if (auto it = given.find(p.name); it != given.end()) {
      if (failed(evalConst(*it->second, Env{}, c)))
        return failure();
    } else if (p.defaultValue) {
      if (failed(evalConst(*p.defaultValue, env, c)))
        return failure();
    } else {
      return error(where) << what << " '" << name
                          << "' needs a value for its parameter '" << p.name
                          << "'";
    }
    env[p.name] = c;
  }
  return success();
}

FailureOr<Shape> Gen::evalType(const TypeAST &t, const Env &env) {
  if (t.element != "f32")
    return error(t.loc) << "unknown element type '" << t.element
                        << "': expected f32";
  Shape s;
  for (const ExprPtr &d : t.dims) {
    int64_t v;
    if (failed(evalInt(*d, env, v, "a dimension", 1)))
      return failure();
    s.push_back(v);
  }
  if (tooLarge(s))
    return error(t.loc) << "the type " << shapeToString(s)
                        << " has too many elements";
  return s;
}

/// Initialisers: zeros, ones, constant(v), uniform(lo, hi), normal(mean, std),
/// fan_in_uniform (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), learner layers only).
FailureOr<DictionaryAttr> Gen::genInit(const Expr &e, const Env &env,
                                       int64_t fanIn) {
  if (e.kind != Expr::Kind::Name && e.kind != Expr::Kind::Call)
    return error(e.loc) << "expected an initialiser: zeros, ones, "
                           "constant(v), uniform(low, high), normal(mean, "
                           "std) or fan_in_uniform";
  SmallVector<NamedAttribute> fields;
  fields.push_back(b.getNamedAttr("kind", b.getStringAttr(e.name)));
  auto numbers = [&](ArrayRef<StringRef> keys) -> LogicalResult {
    std::map<std::string, const Expr *> args;
    if (e.kind != Expr::Kind::Call || !e.hasParens)
      return error(e.loc) << "initialiser '" << e.name << "' needs ("
                          << llvm::join(keys, ", ") << ")";
    if (failed(bindArgs(e, keys, keys.size(), args)))
      return failure();
    for (StringRef k : keys) {
      double v;
      if (failed(evalNumber(*args[k.str()], env, v)))
        return failure();
      fields.push_back(b.getNamedAttr(k, b.getF64FloatAttr(v)));
    }
    return success();
  };
  LogicalResult ok = success();
  if (e.name == "zeros" || e.name == "ones") {
    if (e.hasParens && (!e.args.empty() || !e.named.empty()))
      return error(e.loc) << "'" << e.name << "' takes no arguments";
  } else if (e.name == "constant") {
    ok = numbers({"value"});
  } else if (e.name == "uniform") {
    ok = numbers({"low", "high"});
  } else if (e.name == "normal") {
    ok = numbers({"mean", "std"});
  } else if (e.name == "fan_in_uniform") {
    if (e.hasParens && (!e.args.empty() || !e.named.empty()))
      return error(e.loc) << "'fan_in_uniform' takes no arguments: its bound "
                             "1/sqrt(fan_in) comes from the layer";
    if (fanIn <= 0)
      return error(e.loc) << "fan_in_uniform is only defined for learner "
                             "layer weights and biases";
    fields.push_back(b.getNamedAttr("fan_in", b.getI64IntegerAttr(fanIn)));
  } else {
    return error(e.loc) << "unknown initialiser '" << e.name
                        << "': expected zeros, ones, constant(v), "
                           "uniform(low, high), normal(mean, std) or "
                           "fan_in_uniform";
  }
  if (failed(ok))
    return failure();
  auto dict = b.getDictionaryAttr(fields);
  std::string problem = checkInitAttr(dict);
  if (!problem.empty())
    return error(e.loc) << problem;
  return dict;
}

LogicalResult Gen::checkInits(const Expr &call, ArrayRef<StringRef> allowed) {
  for (const NamedArg &a : call.inits)
    if (!llvm::is_contained(allowed, a.name)) {
      if (allowed.empty())
        return error(a.loc) << "'" << call.name << "' has no parameters to "
                            << "initialise";
      return error(a.loc) << "'" << call.name << "' has no parameter '"
                          << a.name << "' to initialise; expected "
                          << llvm::join(allowed, " or ");
    }
  return success();
}

/// The initialiser for parameter `which` of a layer or cell call: the one in
/// its init(...) clause, else the default kind (with lo/hi for uniform).
FailureOr<DictionaryAttr> Gen::initFor(const Expr &call, StringRef which,
                                       const Env &env, int64_t fanIn,
                                       StringRef defaultKind, double lo,
                                       double hi) {
  for (const NamedArg &a : call.inits)
    if (a.name == which)
      return genInit(*a.value, env, fanIn);
  SmallVector<NamedAttribute> fields{
      b.getNamedAttr("kind", b.getStringAttr(defaultKind))};
  if (defaultKind == "fan_in_uniform")
    fields.push_back(b.getNamedAttr("fan_in", b.getI64IntegerAttr(fanIn)));
  if (defaultKind == "uniform") {
    fields.push_back(b.getNamedAttr("low", b.getF64FloatAttr(lo)));
    fields.push_back(b.getNamedAttr("high", b.getF64FloatAttr(hi)));
  }
  return b.getDictionaryAttr(fields);
}

//===----------------------------------------------------------------------===//
// Function building
//===----------------------------------------------------------------------===//

DictionaryAttr Gen::attrs(StringRef role, StringRef name,
                          DictionaryAttr init) {
  SmallVector<NamedAttribute> fields{
      b.getNamedAttr(LoptDialect::kRoleAttr, b.getStringAttr(role))};
  if (!name.empty())
    fields.push_back(
        b.getNamedAttr(LoptDialect::kNameAttr, b.getStringAttr(name)));
  if (init)
    fields.push_back(b.getNamedAttr(LoptDialect::kInitAttr, init));
  return b.getDictionaryAttr(fields);
}

/// Sets the function type from the block arguments and results, attaches the
/// argument/result attributes and adds the return.
void Gen::finish(FuncBuild &fb, Location l) {
  b.setInsertionPointToEnd(fb.block);
  b.create<func::ReturnOp>(l, fb.results);
  SmallVector<Type> resultTypes;
  for (Value v : fb.results)
    resultTypes.push_back(v.getType());
  fb.fn.setFunctionType(
      FunctionType::get(&ctx, fb.block->getArgumentTypes(), resultTypes));
  fb.fn.setAllArgAttrs(ArrayRef<DictionaryAttr>(fb.argAttrs));
  fb.fn.setAllResultAttrs(ArrayRef<DictionaryAttr>(fb.resultAttrs));
}

//===----------------------------------------------------------------------===//
// Learners
//===----------------------------------------------------------------------===//

FailureOr<func::FuncOp> Gen::genLearner(const LearnerAST &l, const Expr *inst,
                                        int64_t batch, StringRef bnMode,
                                        StringRef sym, SMLoc where) {
  Env env;
  if (failed(bindParams(l.params, inst, "learner", l.name, where, env)))
    return failure();
  if (!l.hasInput)
    return error(l.loc) << "learner '" << l.name
                        << "' has no 'input' declaration (for example "
                           "'input x : f32[1, 28, 28]')";
  if (l.loss.empty())
    return error(l.loc) << "learner '" << l.name
                        << "' has no 'loss' statement (for example "
                           "'loss cross_entropy')";
  if (l.loss != "cross_entropy")
    return error(l.lossLoc) << "unknown loss '" << l.loss
                            << "': expected cross_entropy";
  FailureOr<Shape> in = evalType(l.inputType, env);
  if (failed(in))
    return failure();
  if (in->empty())
    return error(l.inputType.loc)
           << "the learner input must have a shape such as f32[1, 28, 28]";
  Shape xShape{batch};
  xShape.insert(xShape.end(), in->begin(), in->end());

  FuncBuild fb;
  b.setInsertionPointToEnd(module.getBody());
  fb.fn = b.create<func::FuncOp>(loc(l.loc), sym, b.getFunctionType({}, {}));
  fb.fn->setAttr(LoptDialect::kLearnerAttr, b.getStringAttr(l.name));
  fb.fn->setAttr(LoptDialect::kBatchAttr, b.getI64IntegerAttr(batch));
  fb.block = fb.fn.addEntryBlock();
  Value x = addArg(fb, tensor(xShape), attrs(role::kInput, l.inputName),
                   loc(l.inputLoc));
  Value labels = addArg(
      fb, RankedTensorType::get({batch}, b.getIntegerType(32)),
      attrs(role::kLabels, "labels"), loc(l.inputLoc));

  std::map<std::string, int> counters;
  SmallVector<Value> bnStates;
  for (const LayerAST &layer : l.layers)
    if (failed(genLayer(layer, fb, x, env, bnMode, counters)))
      return failure();
  shape::Result ce = shape::crossEntropy(shapeOf(x), {batch});
  if (!ce.ok())
    return error(l.lossLoc) << ce.error << " (end the learner with a "
                                           "'linear' layer)";
  b.setInsertionPointToEnd(fb.block);
  Value loss = b.create<CrossEntropyOp>(loc(l.lossLoc), tensor({}), x, labels);
  // Loss and logits come first; the updated batch-norm statistics (pushed
  // by genLayer) follow.
  fb.results.insert(fb.results.begin(), {loss, x});
  fb.resultAttrs.insert(fb.resultAttrs.begin(),
                        {attrs(role::kLoss), attrs(role::kLogits)});
  finish(fb, loc(l.loc));
  return fb.fn;
}

LogicalResult Gen::genLayer(const LayerAST &layer, FuncBuild &fb, Value &x,
                            const Env &env, StringRef bnMode,
                            std::map<std::string, int> &counters) {
  if (layer.repeatCount) {
    int64_t n;
    if (failed(evalInt(*layer.repeatCount, env, n, "the repeat count", 1)))
      return failure();
    for (int64_t i = 0; i < n; ++i)
      for (const LayerAST &inner : layer.body)
        if (failed(genLayer(inner, fb, x, env, bnMode, counters)))
          return failure();
    return success();
  }
  const Expr &call = *layer.call;
  const std::string &kind = call.name;
  Location l = loc(layer.loc);
  auto xType = cast<RankedTensorType>(x.getType());
  Shape xs = shapeOf(x);
  std::map<std::string, const Expr *> args;
  auto prefix = [&]() {
    return kind + "_" + std::to_string(counters[kind]) + ".";
  };
  auto param = [&](StringRef name, const Shape &s,
                   DictionaryAttr init) -> Value {
    return addArg(fb, tensor(s), attrs(role::kParam, prefix() + name.str(), init),
                  l);
  };
  auto shapeError = [&](const shape::Result &r) {
    return error(layer.loc) << r.error;
  };
  b.setInsertionPointToEnd(fb.block);

  if (kind == "conv2d") {
    int64_t filters, k, stride = 1, pad = 0;
    if (failed(bindArgs(call, {"filters", "kernel", "stride", "pad"}, 2,
                        args)) ||
        failed(checkInits(call, {"weight", "bias"})) ||
        failed(evalInt(*args["filters"], env, filters, "conv2d filters", 1)) ||
        failed(evalInt(*args["kernel"], env, k, "conv2d kernel", 1)) ||
        (args.count("stride") &&
         failed(evalInt(*args["stride"], env, stride, "conv2d stride", 1))) ||
        (args.count("pad") &&
         failed(evalInt(*args["pad"], env, pad, "conv2d pad", 0))))
      return failure();
    if (xs.size() != 4)
      return error(layer.loc) << "conv2d expects an image input [channels, "
                                 "height, width] per example, got "
                              << shapeToString(Shape(xs.begin() + 1, xs.end()));
    Shape ws{filters, xs[1], k, k}, bs{filters};
    shape::Result r = shape::conv2d(xs, ws, bs, stride, pad);
    if (!r.ok())
      return shapeError(r);
    int64_t fanIn = xs[1] * k * k;
    auto wInit = initFor(call, "weight", env, fanIn, "fan_in_uniform");
    auto bInit = initFor(call, "bias", env, fanIn, "fan_in_uniform");
    if (failed(wInit) || failed(bInit))
      return failure();
    Value w = param("weight", ws, *wInit), bias = param("bias", bs, *bInit);
    b.setInsertionPointToEnd(fb.block);
    x = b.create<Conv2DOp>(l, tensor(r.shape), x, w, bias,
                           b.getI64IntegerAttr(stride),
                           b.getI64IntegerAttr(pad));
  } else if (kind == "batchnorm") {
    double eps = 1e-5, momentum = 0.1;
    if (failed(bindArgs(call, {"eps", "momentum"}, 0, args)) ||
        failed(checkInits(call, {"scale", "shift"})) ||
        (args.count("eps") && failed(evalNumber(*args["eps"], env, eps))) ||
        (args.count("momentum") &&
         failed(evalNumber(*args["momentum"], env, momentum))))
      return failure();
    if (eps <= 0)
      return error(args["eps"]->loc) << "batchnorm eps must be positive";
    if (momentum < 0 || momentum > 1)
      return error(args["momentum"]->loc)
             << "batchnorm momentum must be in [0, 1] (it is the weight of "
                "the new batch statistic)";
    if (xs.size() != 4 && xs.size() != 2)
      return error(layer.loc) << "batchnorm expects [channels, height, width] "
                                 "or [features] per example, got "
                              << shapeToString(Shape(xs.begin() + 1, xs.end()));
    Shape cs{xs[1]};
    auto sInit = initFor(call, "scale", env, 0, "uniform", 0.0, 1.0);
    auto tInit = initFor(call, "shift", env, 0, "zeros");
    if (failed(sInit) || failed(tInit))
      return failure();
    Value gamma = param("scale", cs, *sInit), beta = param("shift", cs, *tInit);
    auto zeros = b.getDictionaryAttr(
        {b.getNamedAttr("kind", b.getStringAttr("zeros"))});
    auto ones =
        b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr("ones"))});
    Value mean = addArg(fb, tensor(cs),
                        attrs(role::kBnState, prefix() + "running_mean", zeros),
                        l);
    Value var = addArg(fb, tensor(cs),
                       attrs(role::kBnState, prefix() + "running_var", ones), l);
    b.setInsertionPointToEnd(fb.block);
    auto bn = b.create<BatchNormOp>(
        l, TypeRange{xType, tensor(cs), tensor(cs), tensor(cs), tensor(cs)},
        x, gamma, beta, mean, var,
        b.getF64FloatAttr(eps), b.getF64FloatAttr(momentum),
        b.getStringAttr(bnMode));
    x = bn.getY();
    fb.results.push_back(bn.getNewMean());
    fb.resultAttrs.push_back(attrs(role::kBnState, prefix() + "running_mean"));
    fb.results.push_back(bn.getNewVar());
    fb.resultAttrs.push_back(attrs(role::kBnState, prefix() + "running_var"));
  } else if (kind == "relu" || kind == "tanh" || kind == "sigmoid") {
    if (failed(bindArgs(call, {}, 0, args)) || failed(checkInits(call, {})))
      return failure();
    if (kind == "relu")
      x = b.create<ReluOp>(l, x);
    else if (kind == "tanh")
      x = b.create<TanhOp>(l, x);
    else
      x = b.create<SigmoidOp>(l, x);
  } else if (kind == "maxpool") {
    int64_t k, stride;
    if (failed(bindArgs(call, {"kernel", "stride"}, 1, args)) ||
        failed(checkInits(call, {})) ||
        failed(evalInt(*args["kernel"], env, k, "maxpool kernel", 1)))
      return failure();
    stride = k;
    if (args.count("stride") &&
        failed(evalInt(*args["stride"], env, stride, "maxpool stride", 1)))
      return failure();
    if (xs.size() != 4)
      return error(layer.loc) << "maxpool expects an image input [channels, "
                                 "height, width] per example, got "
                              << shapeToString(Shape(xs.begin() + 1, xs.end()));
    shape::Result r = shape::maxpool(xs, k, stride);
    if (!r.ok())
      return shapeError(r);
    x = b.create<MaxPoolOp>(l, tensor(r.shape), x, b.getI64IntegerAttr(k),
                            b.getI64IntegerAttr(stride));
  } else if (kind == "flatten") {
    if (failed(bindArgs(call, {}, 0, args)) || failed(checkInits(call, {})))
      return failure();
    x = b.create<FlattenOp>(l, tensor(shape::flatten(xs).shape), x);
  } else if (kind == "linear") {
    int64_t out;
    if (failed(bindArgs(call, {"out"}, 1, args)) ||
        failed(checkInits(call, {"weight", "bias"})) ||
        failed(evalInt(*args["out"], env, out, "linear out", 1)))
      return failure();
    if (xs.size() != 2)
      return error(layer.loc)
             << "linear expects a [features] input per example, got "
             << shapeToString(Shape(xs.begin() + 1, xs.end()))
             << " (add 'flatten' before it)";
    auto wInit = initFor(call, "weight", env, xs[1], "fan_in_uniform");
    auto bInit = initFor(call, "bias", env, xs[1], "fan_in_uniform");
    if (failed(wInit) || failed(bInit))
      return failure();
    Value w = param("weight", {out, xs[1]}, *wInit);
    Value bias = param("bias", {out}, *bInit);
    b.setInsertionPointToEnd(fb.block);
    x = b.create<LinearOp>(l, tensor({xs[0], out}), x, w, bias);
  } else {
    return error(layer.loc)
           << "unknown layer '" << kind
           << "': expected conv2d, batchnorm, relu, tanh, sigmoid, maxpool, "
              "flatten or linear";
  }
  ++counters[kind];
  if (tooLarge(shapeOf(x)))
    return error(layer.loc) << "'" << kind << "' produces a tensor with too "
                            << "many elements";
  return success();
}

//===----------------------------------------------------------------------===//
// Cells
//===----------------------------------------------------------------------===//

/// Inputs a cell may declare with `in`; `param` is always an argument.
constexpr StringRef kCellInputs[] = {"param", "grad", "loss", "step"};

FailureOr<func::FuncOp> Gen::genCell(const CellAST &c, const Expr *inst,
                                     StringRef sym, SMLoc where) {
  CellScope scope;
  if (failed(bindParams(c.params, inst, "cell", c.name, where, scope.consts)))
    return failure();
  FuncBuild &fb = scope.fb;
  b.setInsertionPointToEnd(module.getBody());
  fb.fn = b.create<func::FuncOp>(loc(c.loc), sym, b.getFunctionType({}, {}));
  fb.fn->setAttr(LoptDialect::kCellAttr, b.getStringAttr(c.name));
  fb.block = fb.fn.addEntryBlock();
  scope.values["param"] =
      addArg(fb, tensor({}), attrs(role::kParam, "param"), loc(c.loc));
  scope.kinds["param"] = CellName::Param;

  for (const CellStmt &s : c.stmts)
    if (failed(genCellStmt(s, scope, c.name)))
      return failure();
  if (!scope.paramAssigned)
    return error(c.loc) << "cell '" << c.name
                        << "' never assigns 'param': it must end with the "
                           "update, for example 'param = param - 0.01 * grad'";
  fb.results.push_back(scope.values["param"]);
  fb.resultAttrs.push_back(attrs(role::kParam, "param"));
  for (const std::string &st : scope.stateOrder) {
    fb.results.push_back(scope.values[st]);
    fb.resultAttrs.push_back(attrs(role::kState, st));
  }
  finish(fb, loc(c.loc));
  return fb.fn;
}

LogicalResult Gen::genCellStmt(const CellStmt &s, CellScope &scope,
                               StringRef cellName) {
  FuncBuild &fb = scope.fb;
  Location l = loc(s.loc);
  auto declare = [&](const std::string &name, SMLoc at) -> LogicalResult {
    if (scope.kinds.count(name) || scope.consts.count(name))
      return error(at) << "'" << name << "' is already declared in cell '"
                       << cellName << "'";
    return success();
  };

  switch (s.kind) {
  case CellStmt::Kind::In:
    for (auto &[name, at] : s.names) {
      if (!llvm::is_contained(kCellInputs, name))
        return error(at) << "unknown cell input '" << name
                         << "': expected grad, loss, param or step";
      if (name == "param") { // always an argument; declaring it documents use
        if (scope.paramDeclared)
          return error(at) << "'param' is already declared in cell '"
                           << cellName << "'";
        scope.paramDeclared = true;
        continue;
      }
      if (failed(declare(name, at)))
        return failure();
      scope.values[name] =
          addArg(fb, tensor({}), attrs(role::kInput, name), loc(at));
      scope.kinds[name] = CellName::Input;
    }
    return success();

  case CellStmt::Kind::State:
  case CellStmt::Kind::Meta: {
    bool meta = s.kind == CellStmt::Kind::Meta;
    FailureOr<Shape> shape = evalType(s.type, scope.consts);
    if (failed(shape))
      return failure();
    if (shape->size() > 1)
      return error(s.type.loc) << "cell values are scalars or vectors, got "
                               << shapeToString(*shape);
    if (s.perCoordinate && !shape->empty())
      return error(s.type.loc) << "a per_coordinate meta-parameter is one "
                                  "scalar per learner parameter: declare it "
                                  "as f32";
    DictionaryAttr init;
    if (s.init) {
      FailureOr<DictionaryAttr> i = genInit(*s.init, scope.consts, 0);
      if (failed(i))
        return failure();
      init = *i;
    } else {
      init = b.getDictionaryAttr(
          {b.getNamedAttr("kind", b.getStringAttr("zeros"))});
    }
    for (auto &[name, at] : s.names) {
      if (failed(declare(name, at)))
        return failure();
      StringRef r = !meta               ? role::kState
                    : s.perCoordinate ? role::kMetaCoord
                                      : role::kMeta;
      scope.values[name] =
          addArg(fb, tensor(*shape), attrs(r, name, init), loc(at));
      scope.kinds[name] = meta ? CellName::Meta : CellName::State;
      if (!meta) {
        scope.stateOrder.push_back(name);
        scope.stateTypes[name] = tensor(*shape);
      } else {
        scope.metaNames.insert(name);
      }
    }
    return success();
  }

  case CellStmt::Kind::Const: {
    auto &[name, at] = s.names[0];
    if (failed(declare(name, at)))
      return failure();
    Const c;
    if (failed(evalConst(*s.value, scope.consts, c)))
      return failure();
    scope.consts[name] = c;
    return success();
  }

  case CellStmt::Kind::Assign:
    break;
  }

  // Assignment. lstm() and affine() create meta-parameters named after the
  // first assigned variable, so they must be the whole right-hand side.
  const Expr &rhs = *s.value;
  SmallVector<Value> values;
  bool creates = rhs.kind == Expr::Kind::Call &&
                 (rhs.name == "lstm" || rhs.name == "affine");
  if (creates) {
    const std::string &base = s.names[0].first;
    for (StringRef suffix : {".weight", ".bias"})
      if (scope.metaNames.count(base + suffix.str()))
        return error(s.names[0].second)
               << "meta-parameters '" << base << suffix
               << "' already exist: assign each lstm/affine to a different "
                  "variable";
    std::map<std::string, const Expr *> args;
    auto operand = [&](const char *name) -> FailureOr<Value> {
      return genValue(*args[name], scope);
    };
    if (failed(checkInits(rhs, {"weight", "bias"})))
      return failure();
    if (rhs.name == "lstm") {
      if (s.names.size() != 2)
        return error(s.loc) << "lstm returns the new (h, c): assign it to "
                               "two names, as in 'h, c = lstm(x, h, c)'";
      if (failed(bindArgs(rhs, {"x", "h", "c"}, 3, args)))
        return failure();
      FailureOr<Value> x = operand("x"), h = operand("h"), c = operand("c");
      if (failed(x) || failed(h) || failed(c))
        return failure();
      Shape hs = shapeOf(*h), xs = shapeOf(*x);
      int64_t hid = hs.size() == 1 ? hs[0] : 0;
      Shape ws{4 * hid, numElements(xs) + hid}, bs{4 * hid};
      shape::Result r = shape::lstm(xs, hs, shapeOf(*c), ws, bs);
      if (!r.ok())
        return error(rhs.loc) << r.error;
      auto wInit = initFor(rhs, "weight", scope.consts, 0, "uniform", -0.01,
                           0.01);
      auto bInit = initFor(rhs, "bias", scope.consts, 0, "zeros");
      if (failed(wInit) || failed(bInit))
        return failure();
      Value w = addArg(fb, tensor(ws), attrs(role::kMeta, base + ".weight",
                                             *wInit), loc(rhs.loc));
      Value bias = addArg(fb, tensor(bs),
                          attrs(role::kMeta, base + ".bias", *bInit),
                          loc(rhs.loc));
      b.setInsertionPointToEnd(fb.block);
      auto op = b.create<LSTMOp>(l, TypeRange{tensor(hs), tensor(hs)}, *x, *h,
                                 *c, w, bias);
      values = {op.getHNext(), op.getCNext()};
    } else {
      if (s.names.size() != 1)
        return error(s.loc) << "affine returns one value";
      if (failed(bindArgs(rhs, {"x", "out"}, 1, args)))
        return failure();
      FailureOr<Value> x = operand("x");
      if (failed(x))
        return failure();
      Shape xs = shapeOf(*x);
      if (xs.size() > 1)
        return error(rhs.loc) << "affine input must be a scalar or a vector";
      // Output size: `out = N` gives a vector; otherwise the shape of the
      // state being assigned, or a scalar.
      Shape outShape;
      if (args.count("out")) {
        int64_t out;
        if (failed(evalInt(*args["out"], scope.consts, out, "affine out", 1)))
          return failure();
        outShape = {out};
      } else if (auto it = scope.stateTypes.find(base);
                 it != scope.stateTypes.end()) {
        outShape = shapeOf(it->second);
      }
      int64_t in = numElements(xs);
      Shape ws = outShape.empty() ? Shape{in} : Shape{outShape[0], in};
      auto wInit = initFor(rhs, "weight", scope.consts, 0, "uniform", -0.01,
                           0.01);
      auto bInit = initFor(rhs, "bias", scope.consts, 0, "zeros");
      if (failed(wInit) || failed(bInit))
        return failure();
      Value w = addArg(fb, tensor(ws), attrs(role::kMeta, base + ".weight",
                                             *wInit), loc(rhs.loc));
      Value bias = addArg(fb, tensor(outShape),
                          attrs(role::kMeta, base + ".bias", *bInit),
                          loc(rhs.loc));
      b.setInsertionPointToEnd(fb.block);
      values = {b.create<AffineOp>(l, tensor(outShape), *x, w, bias)};
    }
    scope.metaNames.insert(base + ".weight");
    scope.metaNames.insert(base + ".bias");
  } else {
    if (!rhs.inits.empty())
      return error(rhs.inits[0].loc)
             << "only lstm(...) and affine(...) take an init(...) clause";
    if (s.names.size() != 1)
      return error(s.names[1].second)
             << "the right-hand side gives one value, but " << s.names.size()
             << " names are assigned";
    FailureOr<Value> v = genValue(rhs, scope);
    if (failed(v))
      return failure();
    values = {*v};
  }

  for (auto [i, target] : llvm::enumerate(s.names)) {
    auto &[name, at] = target;
    Value v = values[i];
    if (scope.consts.count(name))
      return error(at) << "cannot assign to constant '" << name << "'";
    auto kind = scope.kinds.find(name);
    if (kind != scope.kinds.end()) {
      switch (kind->second) {
      case CellName::Input:
        return error(at) << "cannot assign to cell input '" << name << "'";
      case CellName::Meta:
        return error(at) << "cannot assign to meta-parameter '" << name
                         << "': the meta-optimiser learns it";
      case CellName::Param:
        if (cast<RankedTensorType>(v.getType()).getRank() != 0)
          return error(at) << "'param' is one coordinate, a scalar, but the "
                              "value is "
                           << v.getType();
        scope.paramAssigned = true;
        break;
      case CellName::State:
        if (v.getType() != scope.stateTypes[name])
          return error(at) << "state '" << name << "' has type "
                           << scope.stateTypes[name] << " but the value is "
                           << v.getType();
        break;
      case CellName::Local:
        break;
      }
    } else {
      scope.kinds[name] = CellName::Local;
    }
    scope.values[name] = v;
  }
  return success();
}

FailureOr<Value> Gen::genBinary(char op, Value lhs, Value rhs, SMLoc where) {
  shape::Result r = shape::broadcast(shapeOf(lhs), shapeOf(rhs));
  if (!r.ok())
    return error(where) << r.error;
  Location l = loc(where);
  Type t = tensor(r.shape);
  switch (op) {
  case '+': return Value(b.create<AddOp>(l, t, lhs, rhs));
  case '-': return Value(b.create<SubOp>(l, t, lhs, rhs));
  case '*': return Value(b.create<MulOp>(l, t, lhs, rhs));
  case '/': return Value(b.create<DivOp>(l, t, lhs, rhs));
  case '^': return Value(b.create<PowOp>(l, t, lhs, rhs));
  case 'm': return Value(b.create<MinOp>(l, t, lhs, rhs));
  case 'M': return Value(b.create<MaxOp>(l, t, lhs, rhs));
  }
  return failure();
}

FailureOr<Value> Gen::genValue(const Expr &e, CellScope &scope) {
  b.setInsertionPointToEnd(scope.fb.block);
  Location l = loc(e.loc);
  switch (e.kind) {
  case Expr::Kind::Number:
    if (std::fabs(e.number) > std::numeric_limits<float>::max())
      return error(e.loc) << "the number " << fmt(e.number)
                          << " does not fit in f32";
    return constant(e.number, l);
  case Expr::Kind::Name: {
    if (auto c = scope.consts.find(e.name); c != scope.consts.end()) {
      if (std::fabs(c->second.value) > std::numeric_limits<float>::max())
        return error(e.loc) << "'" << e.name << "' = " << fmt(c->second.value)
                            << " does not fit in f32";
      return constant(c->second.value, l);
    }
    if (auto v = scope.values.find(e.name); v != scope.values.end())
      return v->second;
    if (llvm::is_contained(kCellInputs, e.name))
      return error(e.loc) << "'" << e.name << "' is a cell input: declare it "
                          << "with 'in " << e.name << "'";
    return error(e.loc) << "unknown name '" << e.name << "'";
  }
  case Expr::Kind::Unary: {
    FailureOr<Value> v = genValue(*e.args[0], scope);
    if (failed(v))
      return failure();
    return Value(b.create<NegOp>(l, *v));
  }
  case Expr::Kind::Binary: {
    FailureOr<Value> lhs = genValue(*e.args[0], scope);
    if (failed(lhs))
      return failure();
    FailureOr<Value> rhs = genValue(*e.args[1], scope);
    if (failed(rhs))
      return failure();
    return genBinary(e.op, *lhs, *rhs, e.loc);
  }
  case Expr::Kind::Call:
    break;
  }

  const std::string &f = e.name;
  std::map<std::string, const Expr *> args;
  if (f == "lstm" || f == "affine")
    return error(e.loc) << f << "(...) must be the whole right-hand side of "
                        << "an assignment: its meta-parameters are named "
                           "after the assigned variable";
  static const char *unary[] = {"sigmoid", "tanh", "exp",  "log",   "abs",
                                "sqrt",    "sign", "relu", "square"};
  if (llvm::is_contained(unary, f)) {
    if (failed(bindArgs(e, {"x"}, 1, args)))
      return failure();
    FailureOr<Value> x = genValue(*args["x"], scope);
    if (failed(x))
      return failure();
    b.setInsertionPointToEnd(scope.fb.block);
    if (f == "sigmoid") return Value(b.create<SigmoidOp>(l, *x));
    if (f == "tanh") return Value(b.create<TanhOp>(l, *x));
    if (f == "exp") return Value(b.create<ExpOp>(l, *x));
    if (f == "log") return Value(b.create<LogOp>(l, *x));
    if (f == "abs") return Value(b.create<AbsOp>(l, *x));
    if (f == "sqrt") return Value(b.create<SqrtOp>(l, *x));
    if (f == "sign") return Value(b.create<SignOp>(l, *x));
    if (f == "relu") return Value(b.create<ReluOp>(l, *x));
    return Value(b.create<SquareOp>(l, *x));
  }
  if (f == "min" || f == "max" || f == "pow") {
    if (failed(bindArgs(e, {"a", "b"}, 2, args)))
      return failure();
    FailureOr<Value> lhs = genValue(*args["a"], scope);
    if (failed(lhs))
      return failure();
    FailureOr<Value> rhs = genValue(*args["b"], scope);
    if (failed(rhs))
      return failure();
    return genBinary(f == "min" ? 'm' : f == "max" ? 'M' : '^', *lhs, *rhs,
                     e.loc);
  }
  if (f == "preprocess") {
    double p = 10;
    if (failed(bindArgs(e, {"x", "p"}, 1, args)) ||
        (args.count("p") && failed(evalNumber(*args["p"], scope.consts, p))))
      return failure();
    if (p <= 0)
      return error(args["p"]->loc) << "preprocess p must be positive";
    FailureOr<Value> x = genValue(*args["x"], scope);
    if (failed(x))
      return failure();
    shape::Result r = shape::preprocess(shapeOf(*x));
    if (!r.ok())
      return error(e.loc) << r.error;
    b.setInsertionPointToEnd(scope.fb.block);
    return Value(b.create<PreprocessOp>(l, tensor(r.shape), *x,
                                        b.getF64FloatAttr(p)));
  }
  if (f == "concat") {
    if (!e.named.empty())
      return error(e.named[0].loc) << "concat takes no named arguments";
    if (e.args.empty())
      return error(e.loc) << "concat needs at least one operand";
    SmallVector<Value> parts;
    std::vector<Shape> shapes;
    for (const ExprPtr &a : e.args) {
      FailureOr<Value> v = genValue(*a, scope);
      if (failed(v))
        return failure();
      parts.push_back(*v);
      shapes.push_back(shapeOf(*v));
    }
    shape::Result r = shape::concat(shapes);
    if (!r.ok())
      return error(e.loc) << r.error;
    b.setInsertionPointToEnd(scope.fb.block);
    return Value(b.create<ConcatOp>(l, tensor(r.shape), parts));
  }
  return error(e.loc) << "unknown function '" << f
                      << "': expected one of sigmoid, tanh, exp, log, abs, "
                         "sqrt, sign, relu, square, min, max, pow, "
                         "preprocess, concat, lstm, affine";
}

//===----------------------------------------------------------------------===//
// Episodes
//===----------------------------------------------------------------------===//

LogicalResult Gen::genEpisode(const EpisodeAST &e) {
  static const StringRef known[] = {
      "learner",     "cell",          "init",           "ways",
      "shots",       "queries",       "steps",          "inner_batch",
      "meta_gradient", "meta_optimizer", "batchnorm_eval", "grad_batch_divide"};
  std::map<std::string, const EpisodeField *> fields;
  for (const EpisodeField &f : e.fields) {
    if (!llvm::is_contained(known, f.key))
      return error(f.loc) << "unknown episode setting '" << f.key
                          << "': expected one of " << llvm::join(ArrayRef<StringRef>(known), ", ");
    fields[f.key] = &f;
  }
  for (StringRef required : {"learner", "cell", "ways", "shots", "steps"})
    if (!fields.count(required.str()))
      return error(e.loc) << "episode '" << e.name << "' is missing '"
                          << required << "'";
  auto word = [&](StringRef key, ArrayRef<StringRef> choices,
                  StringRef dflt) -> FailureOr<std::string> {
    auto it = fields.find(key.str());
    if (it == fields.end())
      return dflt.str();
    const Expr &v = *it->second->value;
    if (v.kind != Expr::Kind::Name || !llvm::is_contained(choices, v.name))
      return error(v.loc) << "'" << key << "' must be one of "
                          << llvm::join(choices, ", ");
    return v.name;
  };
  auto integer = [&](StringRef key, int64_t dflt,
                     int64_t &out) -> LogicalResult {
    auto it = fields.find(key.str());
    if (it == fields.end()) {
      out = dflt;
      return success();
    }
    return evalInt(*it->second->value, Env{}, out, "'" + key + "'", 1);
  };

  int64_t ways, shots, queries, steps, innerBatch;
  if (failed(integer("ways", 0, ways)) || failed(integer("shots", 0, shots)) ||
      failed(integer("queries", 15, queries)) ||
      failed(integer("steps", 0, steps)))
    return failure();
  if (ways < 2)
    return error(fields["ways"]->value->loc)
           << "'ways' must be at least 2, got " << ways;
  if (failed(integer("inner_batch", ways * shots, innerBatch)))
    return failure();
  if (innerBatch > ways * shots || (ways * shots) % innerBatch != 0)
    return error(fields.count("inner_batch") ? fields["inner_batch"]->value->loc
                                             : e.loc)
           << "inner_batch " << innerBatch
           << " must divide the support set size ways * shots = "
           << ways * shots;
  FailureOr<std::string> init = word("init", {"learned", "fixed", "random"}, "learned");
  FailureOr<std::string> bnEval =
      word("batchnorm_eval", {"running", "batch"}, "running");
  FailureOr<std::string> divide =
      word("grad_batch_divide", {"true", "false"}, "false");
  if (failed(init) || failed(bnEval) || failed(divide))
    return failure();

  // meta_gradient first_order | full | horizon(k)
  std::string metaGradient = "first_order";
  int64_t horizon = 0;
  if (auto it = fields.find("meta_gradient"); it != fields.end()) {
    const Expr &v = *it->second->value;
    std::map<std::string, const Expr *> args;
    if (v.kind == Expr::Kind::Name &&
        (v.name == "first_order" || v.name == "full")) {
      metaGradient = v.name;
    } else if (v.kind == Expr::Kind::Call && v.name == "horizon") {
      if (failed(bindArgs(v, {"k"}, 1, args)) ||
          failed(evalInt(*args["k"], Env{}, horizon, "the horizon", 1)))
        return failure();
      if (horizon > steps)
        return error(args["k"]->loc) << "the horizon " << horizon
                                     << " exceeds the " << steps
                                     << " inner steps";
      metaGradient = "horizon";
    } else {
      return error(v.loc) << "'meta_gradient' must be first_order, full or "
                             "horizon(k)";
    }
  }

  // meta_optimizer adam(lr, clip_norm, beta1, beta2, eps)
  double lr = 1e-3, clip = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  if (auto it = fields.find("meta_optimizer"); it != fields.end()) {
    const Expr &v = *it->second->value;
    if ((v.kind != Expr::Kind::Name && v.kind != Expr::Kind::Call) ||
        v.name != "adam")
      return error(v.loc) << "'meta_optimizer' must be adam(lr = ..., "
                             "clip_norm = ..., beta1 = ..., beta2 = ..., "
                             "eps = ...)";
    std::map<std::string, const Expr *> args;
    if (failed(bindArgs(v, {"lr", "clip_norm", "beta1", "beta2", "eps"}, 0,
                        args)))
      return failure();
    for (auto [key, dst] :
         {std::pair<const char *, double *>{"lr", &lr}, {"clip_norm", &clip},
          {"beta1", &beta1}, {"beta2", &beta2}, {"eps", &eps}})
      if (args.count(key) && failed(evalNumber(*args[key], Env{}, *dst)))
        return failure();
    if (lr <= 0)
      return error(args["lr"]->loc) << "the meta learning rate must be "
                                       "positive";
    if (clip < 0)
      return error(args["clip_norm"]->loc) << "clip_norm must not be negative "
                                              "(0 disables clipping)";
    if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1)
      return error(v.loc) << "adam's beta1 and beta2 must be in [0, 1)";
    if (eps <= 0)
      return error(args["eps"]->loc) << "adam's eps must be positive";
  }

  // learner NAME(args) and cell NAME(args)
  auto reference = [&](StringRef key) -> const Expr * {
    const Expr *v = fields[key.str()]->value.get();
    if (v->kind != Expr::Kind::Name && v->kind != Expr::Kind::Call) {
      error(v->loc) << "'" << key << "' must name a " << key
                    << ", optionally with arguments";
      return nullptr;
    }
    return v;
  };
  const Expr *learnerRef = reference("learner");
  const Expr *cellRef = learnerRef ? reference("cell") : nullptr;
  if (!learnerRef || !cellRef)
    return failure();
  const LearnerAST *learner = findLearner(learnerRef->name);
  if (!learner)
    return error(learnerRef->loc)
           << "no learner named '" << learnerRef->name << "'"
           << (findCell(learnerRef->name) ? " (that name is a cell)" : "");
  const CellAST *cell = findCell(cellRef->name);
  if (!cell)
    return error(cellRef->loc)
           << "no cell named '" << cellRef->name << "'"
           << (findLearner(cellRef->name) ? " (that name is a learner)" : "");

  const Expr *lInst = learnerRef->kind == Expr::Kind::Call ? learnerRef
                                                           : nullptr;
  FailureOr<func::FuncOp> support =
      genLearner(*learner, lInst, innerBatch, "train", e.name + ".support",
                 learnerRef->loc);
  if (failed(support))
    return failure();
  auto logits = support->getResultTypes()[1].cast<RankedTensorType>();
  if (logits.getShape()[1] != ways)
    return error(learnerRef->loc)
           << "learner '" << learner->name << "' outputs "
           << logits.getShape()[1] << " classes but the episode has " << ways
           << " ways";
  FailureOr<func::FuncOp> query =
      genLearner(*learner, lInst, ways * queries, "train", e.name + ".query",
                 learnerRef->loc);
  if (failed(query))
    return failure();
  bool hasBatchNorm = support->getNumResults() > 2;
  FlatSymbolRefAttr queryEval;
  if (hasBatchNorm && *bnEval == "running") {
    FailureOr<func::FuncOp> qe =
        genLearner(*learner, lInst, ways * queries, "eval",
                   e.name + ".query_eval", learnerRef->loc);
    if (failed(qe))
      return failure();
    queryEval = FlatSymbolRefAttr::get(&ctx, qe->getSymName());
  }
  FailureOr<func::FuncOp> cellFn =
      genCell(*cell, cellRef->kind == Expr::Kind::Call ? cellRef : nullptr,
              e.name + ".cell", cellRef->loc);
  if (failed(cellFn))
    return failure();

  b.setInsertionPointToEnd(module.getBody());
  SmallVector<NamedAttribute> a{
      b.getNamedAttr("sym_name", b.getStringAttr(e.name)),
      b.getNamedAttr("cell", FlatSymbolRefAttr::get(&ctx, cellFn->getSymName())),
      b.getNamedAttr("support",
                     FlatSymbolRefAttr::get(&ctx, support->getSymName())),
      b.getNamedAttr("query", FlatSymbolRefAttr::get(&ctx, query->getSymName())),
      b.getNamedAttr("ways", b.getI64IntegerAttr(ways)),
      b.getNamedAttr("shots", b.getI64IntegerAttr(shots)),
      b.getNamedAttr("queries", b.getI64IntegerAttr(queries)),
      b.getNamedAttr("steps", b.getI64IntegerAttr(steps)),
      b.getNamedAttr("inner_batch", b.getI64IntegerAttr(innerBatch)),
      b.getNamedAttr("init", b.getStringAttr(*init)),
      b.getNamedAttr("meta_gradient", b.getStringAttr(metaGradient)),
      b.getNamedAttr("horizon", b.getI64IntegerAttr(horizon)),
      b.getNamedAttr("meta_optimizer", b.getStringAttr("adam")),
      b.getNamedAttr("lr", b.getF64FloatAttr(lr)),
      b.getNamedAttr("beta1", b.getF64FloatAttr(beta1)),
      b.getNamedAttr("beta2", b.getF64FloatAttr(beta2)),
      b.getNamedAttr("epsilon", b.getF64FloatAttr(eps)),
      b.getNamedAttr("clip_norm", b.getF64FloatAttr(clip)),
      b.getNamedAttr("bn_eval", b.getStringAttr(*bnEval)),
      b.getNamedAttr("grad_batch_divide", b.getBoolAttr(*divide == "true"))};
  if (queryEval)
    a.push_back(b.getNamedAttr("query_eval", queryEval));
  b.create<EpisodeOp>(loc(e.loc), TypeRange{}, ValueRange{}, a);
  return success();
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

LogicalResult Gen::checkUniqueNames() {
  std::map<std::string, std::pair<const char *, SMLoc>> seen;
  auto add = [&](const std::string &name, const char *kind,
                 SMLoc at) -> LogicalResult {
    auto [it, inserted] = seen.insert({name, {kind, at}});
    if (inserted)
      return success();
    const char *other = it->second.first;
    auto diag = error(at) << "the name '" << name << "' is already used by "
                          << (other[0] == 'e' ? "an " : "a ") << other;
    diag.attachNote(loc(it->second.second)) << "first defined here";
    return failure();
  };
  for (auto &l : ast.learners)
    if (failed(add(l->name, "learner", l->loc)))
      return failure();
  for (auto &c : ast.cells)
    if (failed(add(c->name, "cell", c->loc)))
      return failure();
  for (auto &e : ast.episodes)
    if (failed(add(e->name, "episode", e->loc)))
      return failure();
  return success();
}

OwningOpRef<ModuleOp> Gen::run() {
  ctx.getOrLoadDialect<LoptDialect>();
  ctx.getOrLoadDialect<func::FuncDialect>();
  OwningOpRef<ModuleOp> owned = ModuleOp::create(b.getUnknownLoc());
  module = *owned;
  if (failed(checkUniqueNames()))
    return nullptr;

  std::set<std::string> used;
  for (auto [i, e] : llvm::enumerate(ast.episodes)) {
    if (!ast.episodeIsMain[i])
      continue;
    for (const EpisodeField &f : e->fields)
      if ((f.key == "learner" || f.key == "cell") &&
          (f.value->kind == Expr::Kind::Name ||
           f.value->kind == Expr::Kind::Call))
        used.insert(f.value->name);
    if (failed(genEpisode(*e)))
      return nullptr;
  }
  // Definitions no episode uses are instantiated alone, with their defaults,
  // so that every definition of the file is checked and can be inspected.
  for (auto [i, l] : llvm::enumerate(ast.learners))
    if (ast.learnerIsMain[i] && !used.count(l->name) &&
        failed(genLearner(*l, nullptr, 1, "train", l->name, l->loc)))
      return nullptr;
  for (auto [i, c] : llvm::enumerate(ast.cells))
    if (ast.cellIsMain[i] && !used.count(c->name) &&
        failed(genCell(*c, nullptr, c->name, c->loc)))
      return nullptr;
  if (failed(mlir::verify(module)))
    return nullptr;
  return owned;
}

} // namespace

OwningOpRef<ModuleOp> lopt::mlirGen(MLIRContext &context,
                                    const ModuleAST &module,
                                    const llvm::SourceMgr &sm) {
  return Gen(context, module, sm).run();
}
