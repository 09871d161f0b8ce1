//===- Parser.cpp - recursive-descent parser for .lopt files --------------===//
//
// One function per grammar rule, each carrying its rule as a comment. The
// grammar is summarised in docs/language.md. The parser stops at the first
// error: one precise message beats a cascade.
//
//===----------------------------------------------------------------------===//
#include "frontend/Parser.h"
#include "frontend/Lexer.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace lopt;
using llvm::SMLoc;

namespace {

class Parser {
public:
  Parser(llvm::SourceMgr &sm, ModuleAST &module) : sm(sm), module(module) {}

  /// Opens `path` (relative to the working directory or to the importing
  /// file) and parses it; `importLoc` is where an import named it.
  bool parseFile(const std::string &path, SMLoc importLoc, bool isMain);

private:
  // --- token handling -----------------------------------------------------
  void advance() { tok = lexer->next(); }
  Token peekNext() {
    Lexer copy = *lexer;
    return copy.next();
  }
  bool error(SMLoc loc, const llvm::Twine &msg) {
    sm.PrintMessage(loc, llvm::SourceMgr::DK_Error, msg);
    return false;
  }
  /// "expected X, found Y" at the current token.
  bool expected(const llvm::Twine &what) {
    if (tok.kind == Tok::Error)
      return error(tok.loc, tok.message);
    std::string found = tok.kind == Tok::Ident || tok.kind == Tok::Number
                            ? "'" + tok.text.str() + "'"
                            : describe(tok.kind);
    return error(tok.loc, "expected " + what + ", found " + found);
  }
  bool consume(Tok kind, const llvm::Twine &context) {
    if (tok.kind != kind)
      return expected(llvm::Twine(describe(kind)) + " " + context);
    advance();
    return true;
  }
  bool isKeyword(llvm::StringRef word) const {
    return tok.kind == Tok::Ident && tok.text == word;
  }
  bool parseIdent(std::string &out, SMLoc &loc, const llvm::Twine &what) {
    if (tok.kind != Tok::Ident)
      return expected(what);
    out = tok.text.str();
    loc = tok.loc;
    advance();
    return true;
  }
  void skipNewlines() {
    while (tok.kind == Tok::Newline)
      advance();
  }
  /// A statement ends at a newline, ';', or the closing brace of its block.
  bool endStatement(const llvm::Twine &after) {
    if (tok.kind == Tok::Newline) {
      skipNewlines();
      return true;
    }
    if (tok.kind == Tok::RBrace)
      return true;
    return expected(llvm::Twine("end of statement after ") + after);
  }

  // --- grammar ------------------------------------------------------------
  bool parseModule(bool isMain);
  bool parseImport();
  bool parseParams(std::vector<ParamDecl> &params);
  bool parseLearner(bool isMain);
  bool parseLayer(std::vector<LayerAST> &layers);
  bool parseType(TypeAST &type);
  bool parseCell(bool isMain);
  bool parseCellStmt(CellAST &cell);
  bool parseNameList(std::vector<std::pair<std::string, SMLoc>> &names,
                     const char *what);
  bool parseEpisode(bool isMain);
  bool parseInitClause(std::vector<NamedArg> &inits);
  bool parseCallArgs(Expr &call);
  ExprPtr parseExpr();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative();
  ExprPtr parseUnary();
  ExprPtr parsePower();
  ExprPtr parsePrimary();

  llvm::SourceMgr &sm;
  ModuleAST &module;
  llvm::StringSet<> visiting; // files being parsed, to reject import cycles
  llvm::StringSet<> parsed;   // files already parsed: importing one again is a no-op
  std::string currentPath;
  std::unique_ptr<Lexer> lexer;
  Token tok;
};

ExprPtr makeExpr(Expr::Kind kind, SMLoc loc) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->loc = loc;
  return e;
}

bool Parser::parseFile(const std::string &path, SMLoc importLoc,
                       bool isMain) {
  std::string resolved = path;
  if (importLoc.isValid() && !llvm::sys::path::is_absolute(path)) {
    llvm::SmallString<256> p(llvm::sys::path::parent_path(currentPath));
    llvm::sys::path::append(p, path);
    resolved = std::string(p);
  }
  auto bufOr = llvm::MemoryBuffer::getFile(resolved, /*IsText=*/true);
  if (!bufOr) {
    std::string msg = "cannot read '" + resolved +
                      "': " + bufOr.getError().message();
    if (importLoc.isValid())
      return error(importLoc, msg);
    llvm::errs() << "error: " << msg << "\n";
    return false;
  }
  llvm::SmallString<256> real;
  if (llvm::sys::fs::real_path(resolved, real))
    real = resolved;
  if (visiting.contains(real))
    return error(importLoc, "import cycle: '" + resolved +
                                "' is already being imported");
  if (!parsed.insert(real).second)
    return true; // e.g. two imports that both import conv4.lopt
  visiting.insert(real);

  unsigned id = sm.AddNewSourceBuffer(std::move(*bufOr), importLoc);
  std::string savedPath = currentPath;
  std::unique_ptr<Lexer> savedLexer = std::move(lexer);
  Token savedTok = tok;
  currentPath = resolved;
  lexer = std::make_unique<Lexer>(sm.getMemoryBuffer(id)->getBuffer());
  advance();
  bool ok = parseModule(isMain);
  currentPath = savedPath;
  lexer = std::move(savedLexer);
  tok = savedTok;
  visiting.erase(real);
  return ok;
}

/// module ::= (import | learner | cell | episode)* EOF
bool Parser::parseModule(bool isMain) {
  bool any = false;
  for (skipNewlines(); tok.kind != Tok::Eof; skipNewlines()) {
    any = true;
    bool ok;
    if (isKeyword("import"))
      ok = parseImport();
    else if (isKeyword("learner"))
      ok = parseLearner(isMain);
    else if (isKeyword("cell"))
      ok = parseCell(isMain);
    else if (isKeyword("episode"))
      ok = parseEpisode(isMain);
    else
      ok = expected("'learner', 'cell', 'episode' or 'import'");
    if (!ok)
      return false;
  }
  if (!any && isMain)
    return error(tok.loc, "the description is empty: expected at least one "
                          "'learner', 'cell' or 'episode'");
  return true;
}

/// import ::= 'import' STRING
bool Parser::parseImport() {
  advance();
  if (tok.kind != Tok::String)
    return expected("a quoted file name after 'import'");
  std::string path = tok.str;
  SMLoc loc = tok.loc;
  advance();
  if (!endStatement("the import"))
    return false;
  return parseFile(path, loc, /*isMain=*/false);
}

/// params ::= '(' (IDENT ('=' expr)? (',' IDENT ('=' expr)?)* ','?)? ')'
bool Parser::parseParams(std::vector<ParamDecl> &params) {
  if (tok.kind != Tok::LParen)
    return true;
  advance();
  while (tok.kind != Tok::RParen) {
    ParamDecl p;
    if (!parseIdent(p.name, p.loc, "a parameter name"))
      return false;
    for (const ParamDecl &q : params)
      if (q.name == p.name)
        return error(p.loc, "duplicate parameter '" + p.name + "'");
    if (tok.kind == Tok::Equal) {
      advance();
      if (!(p.defaultValue = parseExpr()))
        return false;
    }
    params.push_back(std::move(p));
    if (tok.kind == Tok::Comma)
      advance();
    else if (tok.kind != Tok::RParen)
      return expected("',' or ')' in the parameter list");
  }
  advance();
  return true;
}

/// learner ::= 'learner' IDENT params? '{' learner-stmt* '}'
/// learner-stmt ::= 'input' IDENT ':' type | 'loss' IDENT | layer
bool Parser::parseLearner(bool isMain) {
  auto l = std::make_unique<LearnerAST>();
  l->loc = tok.loc;
  advance();
  if (!parseIdent(l->name, l->loc, "a learner name after 'learner'") ||
      !parseParams(l->params) || !consume(Tok::LBrace, "to open the learner"))
    return false;
  for (skipNewlines(); tok.kind != Tok::RBrace; skipNewlines()) {
    if (tok.kind == Tok::Eof)
      return error(tok.loc, "unexpected end of file: learner '" + l->name +
                                "' is missing its closing '}'");
    if (!l->loss.empty()) {
      return error(tok.loc, "'loss' must be the last statement of learner '" +
                                l->name + "'");
    } else if (isKeyword("input")) {
      if (l->hasInput)
        return error(tok.loc, "learner '" + l->name +
                                  "' already declares its input");
      l->hasInput = true;
      l->inputLoc = tok.loc;
      advance();
      SMLoc loc;
      if (!parseIdent(l->inputName, loc, "the input's name after 'input'") ||
          !consume(Tok::Colon, "before the input's type") ||
          !parseType(l->inputType) || !endStatement("the input declaration"))
        return false;
    } else if (isKeyword("loss")) {
      if (!l->loss.empty())
        return error(tok.loc, "learner '" + l->name +
                                  "' already declares its loss");
      advance();
      if (!parseIdent(l->loss, l->lossLoc, "a loss name after 'loss'") ||
          !endStatement("the loss"))
        return false;
    } else if (!parseLayer(l->layers)) {
      return false;
    }
  }
  advance();
  module.learners.push_back(std::move(l));
  module.learnerIsMain.push_back(isMain);
  return true;
}

/// layer ::= 'repeat' expr '{' layer* '}'
///         | IDENT ('(' call-args ')')? init-clause?
bool Parser::parseLayer(std::vector<LayerAST> &layers) {
  LayerAST layer;
  layer.loc = tok.loc;
  if (isKeyword("repeat")) {
    advance();
    if (!(layer.repeatCount = parseExpr()) ||
        !consume(Tok::LBrace, "to open the repeated block"))
      return false;
    for (skipNewlines(); tok.kind != Tok::RBrace; skipNewlines()) {
      if (tok.kind == Tok::Eof)
        return error(tok.loc, "unexpected end of file: 'repeat' block is "
                              "missing its closing '}'");
      if (!parseLayer(layer.body))
        return false;
    }
    advance();
    layers.push_back(std::move(layer));
    return endStatement("the repeated block");
  }
  if (tok.kind != Tok::Ident)
    return expected("a layer (conv2d, batchnorm, relu, maxpool, flatten, "
                    "linear, ...), 'repeat', 'input' or 'loss'");
  auto call = makeExpr(Expr::Kind::Call, tok.loc);
  call->name = tok.text.str();
  advance();
  if (tok.kind == Tok::LParen && !parseCallArgs(*call))
    return false;
  if (isKeyword("init") && !parseInitClause(call->inits))
    return false;
  layer.call = std::move(call);
  layers.push_back(std::move(layer));
  return endStatement("the layer");
}

/// type ::= IDENT ('[' expr (',' expr)* ']')?
bool Parser::parseType(TypeAST &type) {
  type.loc = tok.loc;
  SMLoc loc;
  if (!parseIdent(type.element, loc, "a type such as f32 or f32[3, 84, 84]"))
    return false;
  if (tok.kind != Tok::LBracket)
    return true;
  advance();
  while (true) {
    ExprPtr d = parseExpr();
    if (!d)
      return false;
    type.dims.push_back(std::move(d));
    if (tok.kind == Tok::RBracket)
      break;
    if (tok.kind != Tok::Comma)
      return expected("',' or ']' in the shape");
    advance();
  }
  advance();
  return true;
}

/// cell ::= 'cell' IDENT params? '{' cell-stmt* '}'
bool Parser::parseCell(bool isMain) {
  auto c = std::make_unique<CellAST>();
  c->loc = tok.loc;
  advance();
  if (!parseIdent(c->name, c->loc, "a cell name after 'cell'") ||
      !parseParams(c->params) || !consume(Tok::LBrace, "to open the cell"))
    return false;
  for (skipNewlines(); tok.kind != Tok::RBrace; skipNewlines()) {
    if (tok.kind == Tok::Eof)
      return error(tok.loc, "unexpected end of file: cell '" + c->name +
                                "' is missing its closing '}'");
    if (!parseCellStmt(*c))
      return false;
  }
  advance();
  module.cells.push_back(std::move(c));
  module.cellIsMain.push_back(isMain);
  return true;
}

bool Parser::parseNameList(std::vector<std::pair<std::string, SMLoc>> &names,
                           const char *what) {
  while (true) {
    std::string n;
    SMLoc loc;
    if (!parseIdent(n, loc, what))
      return false;
    names.emplace_back(n, loc);
    if (tok.kind != Tok::Comma)
      return true;
    advance();
  }
}

/// cell-stmt ::= 'in' IDENT (',' IDENT)*
///             | 'state' IDENT (',' IDENT)* ':' type ('init' expr)?
///             | 'meta' IDENT (',' IDENT)* ':' type 'per_coordinate'?
///                 ('init' expr)?
///             | 'const' IDENT '=' expr
///             | IDENT (',' IDENT)* '=' expr init-clause?
bool Parser::parseCellStmt(CellAST &cell) {
  CellStmt s;
  s.loc = tok.loc;
  bool isDecl = (isKeyword("in") || isKeyword("state") || isKeyword("meta") ||
                 isKeyword("const")) &&
                peekNext().kind == Tok::Ident;
  if (isDecl && isKeyword("in")) {
    s.kind = CellStmt::Kind::In;
    advance();
    if (!parseNameList(s.names, "an input name (grad, loss, param or step)") ||
        !endStatement("the input list"))
      return false;
  } else if (isDecl && (isKeyword("state") || isKeyword("meta"))) {
    bool meta = isKeyword("meta");
    s.kind = meta ? CellStmt::Kind::Meta : CellStmt::Kind::State;
    advance();
    if (!parseNameList(s.names, meta ? "a meta-parameter name"
                                     : "a state name") ||
        !consume(Tok::Colon, "before the declared type") || !parseType(s.type))
      return false;
    if (meta && isKeyword("per_coordinate")) {
      s.perCoordinate = true;
      advance();
    }
    if (isKeyword("init")) {
      advance();
      if (!(s.init = parseExpr()))
        return false;
    }
    if (!endStatement("the declaration"))
      return false;
  } else if (isDecl && isKeyword("const")) {
    s.kind = CellStmt::Kind::Const;
    advance();
    std::string n;
    SMLoc loc;
    if (!parseIdent(n, loc, "a constant name") ||
        !consume(Tok::Equal, "after the constant's name") ||
        !(s.value = parseExpr()) || !endStatement("the constant"))
      return false;
    s.names.emplace_back(n, loc);
  } else {
    s.kind = CellStmt::Kind::Assign;
    if (!parseNameList(s.names, "a statement: 'in', 'state', 'meta', "
                                "'const' or an assignment") ||
        !consume(Tok::Equal, "in the assignment") || !(s.value = parseExpr()))
      return false;
    if (isKeyword("init")) {
      if (s.value->kind != Expr::Kind::Call)
        return error(tok.loc, "'init(...)' only follows a call that creates "
                              "meta-parameters, such as lstm or affine");
      if (!parseInitClause(s.value->inits))
        return false;
    }
    if (!endStatement("the assignment"))
      return false;
  }
  cell.stmts.push_back(std::move(s));
  return true;
}

/// episode ::= 'episode' IDENT '{' (IDENT expr)* '}'
bool Parser::parseEpisode(bool isMain) {
  auto e = std::make_unique<EpisodeAST>();
  e->loc = tok.loc;
  advance();
  if (!parseIdent(e->name, e->loc, "an episode name after 'episode'") ||
      !consume(Tok::LBrace, "to open the episode"))
    return false;
  for (skipNewlines(); tok.kind != Tok::RBrace; skipNewlines()) {
    if (tok.kind == Tok::Eof)
      return error(tok.loc, "unexpected end of file: episode '" + e->name +
                                "' is missing its closing '}'");
    EpisodeField f;
    if (!parseIdent(f.key, f.loc, "an episode setting such as 'ways 5'"))
      return false;
    for (const EpisodeField &g : e->fields)
      if (g.key == f.key)
        return error(f.loc, "episode setting '" + f.key + "' is given twice");
    if (tok.kind == Tok::Newline || tok.kind == Tok::RBrace)
      return error(f.loc, "episode setting '" + f.key + "' needs a value");
    if (!(f.value = parseExpr()) || !endStatement("the episode setting"))
      return false;
    e->fields.push_back(std::move(f));
  }
  advance();
  module.episodes.push_back(std::move(e));
  module.episodeIsMain.push_back(isMain);
  return true;
}

/// init-clause ::= 'init' '(' IDENT '=' expr (',' IDENT '=' expr)* ')'
bool Parser::parseInitClause(std::vector<NamedArg> &inits) {
  advance();
  if (!consume(Tok::LParen, "after 'init'"))
    return false;
  while (true) {
    NamedArg a;
    if (!parseIdent(a.name, a.loc, "a parameter name such as 'weight'") ||
        !consume(Tok::Equal, "after the parameter name") ||
        !(a.value = parseExpr()))
      return false;
    for (const NamedArg &b : inits)
      if (b.name == a.name)
        return error(a.loc, "initialiser for '" + a.name + "' given twice");
    inits.push_back(std::move(a));
    if (tok.kind == Tok::RParen)
      break;
    if (tok.kind != Tok::Comma)
      return expected("',' or ')' in init(...)");
    advance();
  }
  advance();
  return true;
}

/// call-args ::= '(' (arg (',' arg)* ','?)? ')'   arg ::= IDENT '=' expr | expr
bool Parser::parseCallArgs(Expr &call) {
  call.hasParens = true;
  advance(); // '('
  while (tok.kind != Tok::RParen) {
    if (tok.kind == Tok::Ident && peekNext().kind == Tok::Equal) {
      NamedArg a;
      a.name = tok.text.str();
      a.loc = tok.loc;
      advance();
      advance();
      if (!(a.value = parseExpr()))
        return false;
      for (const NamedArg &b : call.named)
        if (b.name == a.name)
          return error(a.loc, "argument '" + a.name + "' given twice");
      call.named.push_back(std::move(a));
    } else {
      if (!call.named.empty())
        return error(tok.loc, "positional arguments must come before named "
                              "ones in the call to '" + call.name + "'");
      ExprPtr e = parseExpr();
      if (!e)
        return false;
      call.args.push_back(std::move(e));
    }
    if (tok.kind == Tok::Comma)
      advance();
    else if (tok.kind != Tok::RParen)
      return expected("',' or ')' in the call to '" + call.name + "'");
  }
  advance();
  return true;
}

/// expr ::= additive
ExprPtr Parser::parseExpr() { return parseAdditive(); }

/// additive ::= multiplicative (('+' | '-') multiplicative)*
ExprPtr Parser::parseAdditive() {
  ExprPtr lhs = parseMultiplicative();
  while (lhs && (tok.kind == Tok::Plus || tok.kind == Tok::Minus)) {
    auto b = makeExpr(Expr::Kind::Binary, tok.loc);
    b->op = tok.kind == Tok::Plus ? '+' : '-';
    advance();
    ExprPtr rhs = parseMultiplicative();
    if (!rhs)
      return nullptr;
    b->args.push_back(std::move(lhs));
    b->args.push_back(std::move(rhs));
    lhs = std::move(b);
  }
  return lhs;
}

/// multiplicative ::= unary (('*' | '/') unary)*
ExprPtr Parser::parseMultiplicative() {
  ExprPtr lhs = parseUnary();
  while (lhs && (tok.kind == Tok::Star || tok.kind == Tok::Slash)) {
    auto b = makeExpr(Expr::Kind::Binary, tok.loc);
    b->op = tok.kind == Tok::Star ? '*' : '/';
    advance();
    ExprPtr rhs = parseUnary();
    if (!rhs)
      return nullptr;
    b->args.push_back(std::move(lhs));
    b->args.push_back(std::move(rhs));
    lhs = std::move(b);
  }
  return lhs;
}

/// unary ::= '-' unary | power
ExprPtr Parser::parseUnary() {
  if (tok.kind != Tok::Minus)
    return parsePower();
  auto u = makeExpr(Expr::Kind::Unary, tok.loc);
  u->op = '-';
  advance();
  ExprPtr operand = parseUnary();
  if (!operand)
    return nullptr;
  u->args.push_back(std::move(operand));
  return u;
}

/// power ::= primary ('^' unary)?        (right-associative)
ExprPtr Parser::parsePower() {
  ExprPtr base = parsePrimary();
  if (!base || tok.kind != Tok::Caret)
    return base;
  auto b = makeExpr(Expr::Kind::Binary, tok.loc);
  b->op = '^';
  advance();
  ExprPtr exponent = parseUnary();
  if (!exponent)
    return nullptr;
  b->args.push_back(std::move(base));
  b->args.push_back(std::move(exponent));
  return b;
}

/// primary ::= NUMBER | IDENT call-args? | '(' expr ')'
ExprPtr Parser::parsePrimary() {
  if (tok.kind == Tok::Number) {
    auto n = makeExpr(Expr::Kind::Number, tok.loc);
    n->number = tok.number;
    n->isInteger = tok.isInteger;
    advance();
    return n;
  }
  if (tok.kind == Tok::Ident) {
    if (peekNext().kind == Tok::LParen) {
      auto c = makeExpr(Expr::Kind::Call, tok.loc);
      c->name = tok.text.str();
      advance();
      if (!parseCallArgs(*c))
        return nullptr;
      return c;
    }
    auto n = makeExpr(Expr::Kind::Name, tok.loc);
    n->name = tok.text.str();
    advance();
    return n;
  }
  if (tok.kind == Tok::LParen) {
    advance();
    ExprPtr e = parseExpr();
    if (!e || !consume(Tok::RParen, "to close the parenthesis"))
      return nullptr;
    return e;
  }
  expected("an expression");
  return nullptr;
}

} // namespace

std::unique_ptr<ModuleAST> lopt::parseFile(const std::string &path,
                                           llvm::SourceMgr &sm) {
  auto module = std::make_unique<ModuleAST>();
  Parser parser(sm, *module);
  if (!parser.parseFile(path, SMLoc(), /*isMain=*/true))
    return nullptr;
  return module;
}
