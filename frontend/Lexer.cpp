//===- Lexer.cpp - tokens of the .lopt description language ---------------===//
#include "frontend/Lexer.h"

#include "llvm/Support/FormatVariadic.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace lopt;

const char *lopt::describe(Tok kind) {
  switch (kind) {
  case Tok::Eof: return "end of file";
  case Tok::Newline: return "end of statement";
  case Tok::Ident: return "a name";
  case Tok::Number: return "a number";
  case Tok::String: return "a string";
  case Tok::LParen: return "'('";
  case Tok::RParen: return "')'";
  case Tok::LBrace: return "'{'";
  case Tok::RBrace: return "'}'";
  case Tok::LBracket: return "'['";
  case Tok::RBracket: return "']'";
  case Tok::Comma: return "','";
  case Tok::Colon: return "':'";
  case Tok::Equal: return "'='";
  case Tok::Plus: return "'+'";
  case Tok::Minus: return "'-'";
  case Tok::Star: return "'*'";
  case Tok::Slash: return "'/'";
  case Tok::Caret: return "'^'";
  case Tok::Error: return "an invalid token";
  }
  return "a token";
}

Token Lexer::make(Tok kind, const char *start) {
  Token t;
  t.kind = kind;
  t.text = llvm::StringRef(start, cur - start);
  t.loc = llvm::SMLoc::getFromPointer(start);
  return t;
}

Token Lexer::error(const char *at, std::string msg) {
  Token t;
  t.kind = Tok::Error;
  t.loc = llvm::SMLoc::getFromPointer(at);
  t.message = std::move(msg);
  cur = buf.end(); // stop lexing after the first error
  return t;
}

Token Lexer::next() {
  const char *end = buf.end();
  while (cur < end) {
    char c = *cur;
    if (c == '#') {
      while (cur < end && *cur != '\n')
        ++cur;
      continue;
    }
    if (c == '\n' || c == ';') {
      const char *start = cur++;
      if (depth > 0 && c == '\n')
        continue;
      return make(Tok::Newline, start);
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++cur;
      continue;
    }
    break;
  }
  if (cur >= end)
    return make(Tok::Eof, end);

  const char *start = cur;
  char c = *cur;
  if (std::isalpha((unsigned char)c) || c == '_') {
    while (cur < end && (std::isalnum((unsigned char)*cur) || *cur == '_'))
      ++cur;
    return make(Tok::Ident, start);
  }
  if (std::isdigit((unsigned char)c) ||
      (c == '.' && cur + 1 < end && std::isdigit((unsigned char)cur[1])))
    return lexNumber(start);
  if (c == '"')
    return lexString(start);

  ++cur;
  switch (c) {
  case '(': ++depth; return make(Tok::LParen, start);
  case ')': if (depth > 0) --depth; return make(Tok::RParen, start);
  case '[': ++depth; return make(Tok::LBracket, start);
  case ']': if (depth > 0) --depth; return make(Tok::RBracket, start);
  case '{': return make(Tok::LBrace, start);
  case '}': return make(Tok::RBrace, start);
  case ',': return make(Tok::Comma, start);
  case ':': return make(Tok::Colon, start);
  case '=': return make(Tok::Equal, start);
  case '+': return make(Tok::Plus, start);
  case '-': return make(Tok::Minus, start);
  case '*': return make(Tok::Star, start);
  case '/': return make(Tok::Slash, start);
  case '^': return make(Tok::Caret, start);
  default:
    break;
  }
  if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
    return error(start, llvm::formatv("unexpected byte {0:x2} (descriptions "
                                      "are plain ASCII text)",
                                      unsigned((unsigned char)c))
                            .str());
  return error(start, std::string("unexpected character '") + c + "'");
}

Token Lexer::lexNumber(const char *start) {
  const char *end = buf.end();
  bool isInteger = true;
  while (cur < end && std::isdigit((unsigned char)*cur))
    ++cur;
  if (cur < end && *cur == '.') {
    isInteger = false;
    ++cur;
    while (cur < end && std::isdigit((unsigned char)*cur))
      ++cur;
  }
  if (cur < end && (*cur == 'e' || *cur == 'E')) {
    isInteger = false;
    ++cur;
    if (cur < end && (*cur == '+' || *cur == '-'))
      ++cur;
    if (cur >= end || !std::isdigit((unsigned char)*cur))
      return error(start, "malformed number: exponent needs digits");
    while (cur < end && std::isdigit((unsigned char)*cur))
      ++cur;
  }
  if (cur < end && (std::isalpha((unsigned char)*cur) || *cur == '_' ||
                    *cur == '.'))
    return error(start, "malformed number '" +
                            std::string(start, cur + 1 - start) + "'");
  std::string spelling(start, cur - start);
  errno = 0;
  double v = std::strtod(spelling.c_str(), nullptr);
  if (errno == ERANGE && std::isinf(v))
    return error(start, "number '" + spelling + "' is out of range");
  if (isInteger && v > 9.0e15)
    return error(start, "integer '" + spelling + "' is too large");
  Token t = make(Tok::Number, start);
  t.number = v;
  t.isInteger = isInteger;
  return t;
}

Token Lexer::lexString(const char *start) {
  const char *end = buf.end();
  ++cur; // opening quote
  std::string value;
  while (cur < end && *cur != '"') {
    if (*cur == '\n')
      return error(start, "unterminated string");
    value += *cur++;
  }
  if (cur >= end)
    return error(start, "unterminated string");
  ++cur; // closing quote
  Token t = make(Tok::String, start);
  t.str = std::move(value);
  return t;
}
