//===- AST.h - syntax tree of .lopt descriptions ----------------*- C++ -*-===//
//
// Nodes own their children and carry the source location of their first
// token; MLIRGen turns those into FileLineColLoc and reports semantic errors
// against them.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_FRONTEND_AST_H
#define LOPT_FRONTEND_AST_H

#include "llvm/Support/SMLoc.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class SourceMgr;
}

namespace lopt {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// `name = value` inside a call's parentheses or an init(...) clause.
struct NamedArg {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr value;
};

/// Expressions: numbers, names, arithmetic and calls `f(a, b, k = v)`.
struct Expr {
  enum class Kind { Number, Name, Unary, Binary, Call };
  Kind kind;
  llvm::SMLoc loc;
  double number = 0;       // Number
  bool isInteger = false;  // Number
  std::string name;        // Name, Call: the callee
  char op = 0;             // Unary ('-'), Binary ('+', '-', '*', '/', '^')
  std::vector<ExprPtr> args;     // Unary/Binary operands; Call positional args
  std::vector<NamedArg> named;   // Call named args
  bool hasParens = false;        // Call: written with parentheses
  std::vector<NamedArg> inits;   // Call: trailing init(...) clause
};

/// A tensor type `f32` or `f32[d0, d1, ...]` whose dims are constant
/// expressions (they may use the definition's parameters).
struct TypeAST {
  llvm::SMLoc loc;
  std::string element;
  std::vector<ExprPtr> dims;
};

/// A definition parameter `classes` or `classes = 5`.
struct ParamDecl {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr defaultValue; // may be null
};

/// One learner layer, or a `repeat N { ... }` block.
struct LayerAST {
  llvm::SMLoc loc;
  ExprPtr call;                   // Call expr: kind, args, inits (null for repeat)
  ExprPtr repeatCount;            // repeat only
  std::vector<LayerAST> body;     // repeat only
};

struct LearnerAST {
  llvm::SMLoc loc;
  std::string name;
  std::vector<ParamDecl> params;
  llvm::SMLoc inputLoc;
  std::string inputName;
  TypeAST inputType;
  bool hasInput = false;
  std::vector<LayerAST> layers;
  std::string loss;
  llvm::SMLoc lossLoc;
};

struct CellStmt {
  enum class Kind { In, State, Meta, Const, Assign };
  Kind kind;
  llvm::SMLoc loc;
  std::vector<std::pair<std::string, llvm::SMLoc>> names; // declared/assigned
  TypeAST type;             // State, Meta
  bool perCoordinate = false; // Meta
  ExprPtr init;             // State, Meta: initialiser expression (optional)
  ExprPtr value;            // Const, Assign
};

struct CellAST {
  llvm::SMLoc loc;
  std::string name;
  std::vector<ParamDecl> params;
  std::vector<CellStmt> stmts;
};

/// `key value` lines of an episode; the value's meaning depends on the key.
struct EpisodeField {
  std::string key;
  llvm::SMLoc loc;
  ExprPtr value;
};

struct EpisodeAST {
  llvm::SMLoc loc;
  std::string name;
  std::vector<EpisodeField> fields;
};

/// Everything parsed from a file and, recursively, its imports.
struct ModuleAST {
  std::vector<std::unique_ptr<LearnerAST>> learners;
  std::vector<std::unique_ptr<CellAST>> cells;
  std::vector<std::unique_ptr<EpisodeAST>> episodes;
  /// Whether each definition comes from the main file (not an import).
  std::vector<bool> learnerIsMain, cellIsMain, episodeIsMain;
};

/// Prints the tree with file:line:col locations (for `loptc -emit=ast`).
void dump(const ModuleAST &module, const llvm::SourceMgr &sm,
          llvm::raw_ostream &os);

} // namespace lopt

#endif // LOPT_FRONTEND_AST_H
