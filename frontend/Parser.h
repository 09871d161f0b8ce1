//===- Parser.h - recursive-descent parser for .lopt files ------*- C++ -*-===//
#ifndef LOPT_FRONTEND_PARSER_H
#define LOPT_FRONTEND_PARSER_H

#include "frontend/AST.h"

#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>

namespace lopt {

/// Parses `path` and everything it imports into one ModuleAST. Errors are
/// printed through `sm` as `file:line:col: error: ...`; returns null on the
/// first error. Buffers stay owned by `sm`, which must outlive the AST.
std::unique_ptr<ModuleAST> parseFile(const std::string &path,
                                     llvm::SourceMgr &sm);

} // namespace lopt

#endif // LOPT_FRONTEND_PARSER_H
