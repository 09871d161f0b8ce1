//===- Driver.h - shared pieces of the loptc commands -----------*- C++ -*-===//
#ifndef LOPT_TOOLS_LOPTC_DRIVER_H
#define LOPT_TOOLS_LOPTC_DRIVER_H

#include "frontend/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>

namespace lopt {

/// A parsed and lowered description. Diagnostics go to stderr as
/// `file:line:col: error: ...` for as long as this object lives.
struct Description {
  Description();
  ~Description();
  /// Parses `path` (and its imports) and generates verified lopt IR.
  bool load(const std::string &path);

  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<ModuleAST> ast;
  mlir::OwningOpRef<mlir::ModuleOp> module;

private:
  struct Handler;
  std::unique_ptr<Handler> handler;
};

/// `loptc episode FILE ...`: runs the description's episode on real data
/// through the reference interpreter. Returns the process exit code.
int runEpisodeCommand(const std::string &file, const std::string &dataPath,
                      const std::string &episodeName, uint64_t seed);

} // namespace lopt

#endif // LOPT_TOOLS_LOPTC_DRIVER_H
