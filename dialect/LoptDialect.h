//===- LoptDialect.h - the lopt dialect -------------------------*- C++ -*-===//
#ifndef LOPT_DIALECT_LOPTDIALECT_H
#define LOPT_DIALECT_LOPTDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialect/LoptOpsDialect.h.inc"

#endif // LOPT_DIALECT_LOPTDIALECT_H
