//===- LoptDialect.cpp - dialect registration and attribute checks --------===//
//
// Besides registering the ops, the dialect verifies its discardable
// attributes: the `lopt.learner` / `lopt.cell` tags on functions and the
// `lopt.role` / `lopt.name` / `lopt.init` attributes on their arguments and
// results, so hand-written IR gets the same checks as generated IR.
//
//===----------------------------------------------------------------------===//
#include "dialect/LoptDialect.h"
#include "dialect/LoptOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace lopt;

#include "dialect/LoptOpsDialect.cpp.inc"

void LoptDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/LoptOps.cpp.inc"
      >();
}

std::string lopt::checkInitAttr(DictionaryAttr init) {
  auto kind = init.getAs<StringAttr>("kind");
  if (!kind)
    return "initialiser needs a string 'kind'";
  auto number = [&](StringRef key) -> std::optional<double> {
    if (auto f = init.getAs<FloatAttr>(key))
      return f.getValueAsDouble();
    return std::nullopt;
  };
  StringRef k = kind.getValue();
  if (k == "zeros" || k == "ones")
    return "";
  if (k == "constant")
    return number("value") ? "" : "constant initialiser needs 'value'";
  if (k == "uniform") {
    auto lo = number("low"), hi = number("high");
    if (!lo || !hi)
      return "uniform initialiser needs 'low' and 'high'";
    return *lo <= *hi ? "" : "uniform initialiser needs low <= high";
  }
  if (k == "normal") {
    auto mean = number("mean"), std = number("std");
    if (!mean || !std)
      return "normal initialiser needs 'mean' and 'std'";
    return *std >= 0 ? "" : "normal initialiser needs std >= 0";
  }
  if (k == "fan_in_uniform") {
    auto fanIn = init.getAs<IntegerAttr>("fan_in");
    return fanIn && fanIn.getInt() > 0
               ? ""
               : "fan_in_uniform initialiser needs a positive 'fan_in'";
  }
  return ("unknown initialiser kind '" + k + "'").str();
}

namespace {
bool isArgRole(StringRef r) {
  return llvm::is_contained(
      {role::kInput, role::kLabels, role::kParam, role::kBnState,
       role::kState, role::kMeta, role::kMetaCoord},
      r);
}
bool isResultRole(StringRef r) {
  return llvm::is_contained({role::kLoss, role::kLogits, role::kParam,
                             role::kBnState, role::kState, role::kGrad,
                             role::kMetric, role::kEval},
                            r);
}

/// Shared checks of lopt.role / lopt.name / lopt.init on an argument or result.
LogicalResult verifyOperandAttr(Operation *op, NamedAttribute attr,
                                bool isResult, unsigned index) {
  StringRef name = attr.getName().getValue();
  auto where = [&]() {
    return op->emitOpError() << (isResult ? "result #" : "argument #") << index
                             << " attribute '" << name << "' ";
  };
  if (name == LoptDialect::kRoleAttr) {
    auto s = dyn_cast<StringAttr>(attr.getValue());
    if (!s || !(isResult ? isResultRole(s) : isArgRole(s)))
      return where() << "names an unknown role";
    return success();
  }
  if (name == LoptDialect::kNameAttr)
    return isa<StringAttr>(attr.getValue()) ? success()
                                            : (where() << "must be a string");
  if (name == LoptDialect::kInitAttr) {
    auto d = dyn_cast<DictionaryAttr>(attr.getValue());
    if (!d)
      return where() << "must be a dictionary";
    std::string err = checkInitAttr(d);
    return err.empty() ? success() : (where() << err);
  }
  return where() << "is not a known lopt attribute";
}
} // namespace

LogicalResult LoptDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kLearnerAttr || name == kCellAttr) {
    auto fn = dyn_cast<func::FuncOp>(op);
    if (!fn || !isa<StringAttr>(attr.getValue()))
      return op->emitError() << "'" << name
                             << "' must be a string on a func.func";
    // Every argument of a learner or cell says what it is.
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      if (!fn.getArgAttrOfType<StringAttr>(i, kRoleAttr))
        return op->emitOpError() << "argument #" << i << " of " << name
                                 << " function lacks '" << kRoleAttr << "'";
    return success();
  }
  if (name == kGradientOfAttr)
    return isa<StringAttr>(attr.getValue())
               ? success()
               : (op->emitError() << "'" << name << "' must be a string");
  if (name == kRecomputedAttr)
    return isa<UnitAttr>(attr.getValue())
               ? success()
               : (op->emitError() << "'" << name << "' must be a unit attribute");
  if (name == kBatchAttr) {
    auto i = dyn_cast<IntegerAttr>(attr.getValue());
    return i && i.getInt() > 0
               ? success()
               : (op->emitError() << "'" << name
                                  << "' must be a positive integer");
  }
  return op->emitError() << "unknown lopt attribute '" << name << "'";
}

LogicalResult LoptDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                    unsigned argIndex,
                                                    NamedAttribute attr) {
  return verifyOperandAttr(op, attr, /*isResult=*/false, argIndex);
}

LogicalResult LoptDialect::verifyRegionResultAttribute(Operation *op, unsigned,
                                                       unsigned resultIndex,
                                                       NamedAttribute attr) {
  return verifyOperandAttr(op, attr, /*isResult=*/true, resultIndex);
}
