//===- Lexer.h - tokens of the .lopt description language -------*- C++ -*-===//
//
// Newlines end statements, except inside parentheses or brackets, so long
// calls can wrap; ';' also ends a statement; '#' starts a comment.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_FRONTEND_LEXER_H
#define LOPT_FRONTEND_LEXER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

#include <string>

namespace lopt {

enum class Tok {
  Eof,
  Newline, // also ';'
  Ident,
  Number,
  String,
  LParen,
  RParen,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Equal,
  Plus,
  Minus,
  Star,
  Slash,
  Caret,
  Error, // text holds the message
};

/// A short description of a token kind for "expected X, found Y" messages.
const char *describe(Tok kind);

struct Token {
  Tok kind = Tok::Eof;
  llvm::StringRef text; // spelling (for Error: the message)
  llvm::SMLoc loc;
  double number = 0;    // Number: its value
  bool isInteger = false;
  std::string str;      // String: contents without quotes
  std::string message;  // Error: what is wrong
};

class Lexer {
public:
  explicit Lexer(llvm::StringRef buffer) : buf(buffer), cur(buffer.begin()) {}
  Token next();

private:
  Token make(Tok kind, const char *start);
  Token error(const char *at, std::string msg);
  Token lexNumber(const char *start);
  Token lexString(const char *start);

  llvm::StringRef buf;
  const char *cur;
  int depth = 0; // open ( and [ : newlines inside them are ignored
};

} // namespace lopt

#endif // LOPT_FRONTEND_LEXER_H
