//===- lopt-opt.cpp - MlirOptMain with the lopt dialect and passes --------===//
#include "dialect/LoptDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses(); // canonicalize, cse, inline, ...
  lopt::registerAll();
  mlir::DialectRegistry registry;
  registry.insert<lopt::LoptDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect>();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "lopt optimizer driver\n", registry));
}
