//===- ASTDump.cpp - print the syntax tree (loptc -emit=ast) --------------===//
#include "frontend/AST.h"

#include "llvm/Support/SourceMgr.h"

#include <cstdio>

using namespace lopt;

namespace {
class Dumper {
public:
  Dumper(const llvm::SourceMgr &sm, llvm::raw_ostream &os) : sm(sm), os(os) {}

  void loc(llvm::SMLoc l) {
    unsigned id = sm.FindBufferContainingLoc(l);
    if (!id) {
      os << " @<unknown>";
      return;
    }
    auto [line, col] = sm.getLineAndColumn(l, id);
    os << " @" << sm.getMemoryBuffer(id)->getBufferIdentifier() << ":" << line
       << ":" << col;
  }
  void indent(int n) { os.indent(2 * n); }

  void expr(const Expr &e) {
    switch (e.kind) {
    case Expr::Kind::Number: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", e.number);
      os << buf;
      return;
    }
    case Expr::Kind::Name:
      os << e.name;
      return;
    case Expr::Kind::Unary:
      os << "(-";
      expr(*e.args[0]);
      os << ")";
      return;
    case Expr::Kind::Binary:
      os << "(";
      expr(*e.args[0]);
      os << " " << e.op << " ";
      expr(*e.args[1]);
      os << ")";
      return;
    case Expr::Kind::Call: {
      os << e.name;
      if (!e.hasParens && e.args.empty() && e.named.empty())
        break;
      os << "(";
      bool first = true;
      for (const ExprPtr &a : e.args) {
        os << (first ? "" : ", ");
        first = false;
        expr(*a);
      }
      for (const NamedArg &a : e.named) {
        os << (first ? "" : ", ") << a.name << " = ";
        first = false;
        expr(*a.value);
      }
      os << ")";
      break;
    }
    }
    if (!e.inits.empty()) {
      os << " init(";
      for (size_t i = 0; i < e.inits.size(); ++i) {
        os << (i ? ", " : "") << e.inits[i].name << " = ";
        expr(*e.inits[i].value);
      }
      os << ")";
    }
  }

  void type(const TypeAST &t) {
    os << t.element;
    if (t.dims.empty())
      return;
    os << "[";
    for (size_t i = 0; i < t.dims.size(); ++i) {
      os << (i ? ", " : "");
      expr(*t.dims[i]);
    }
    os << "]";
  }

  void params(const std::vector<ParamDecl> &ps) {
    for (const ParamDecl &p : ps) {
      indent(1);
      os << "Param " << p.name;
      if (p.defaultValue) {
        os << " = ";
        expr(*p.defaultValue);
      }
      loc(p.loc);
      os << "\n";
    }
  }

  void layers(const std::vector<LayerAST> &ls, int depth) {
    for (const LayerAST &l : ls) {
      indent(depth);
      if (l.repeatCount) {
        os << "Repeat ";
        expr(*l.repeatCount);
        loc(l.loc);
        os << "\n";
        layers(l.body, depth + 1);
        continue;
      }
      os << "Layer ";
      expr(*l.call);
      loc(l.loc);
      os << "\n";
    }
  }

  void module(const ModuleAST &m) {
    for (const auto &l : m.learners) {
      os << "Learner " << l->name;
      loc(l->loc);
      os << "\n";
      params(l->params);
      if (l->hasInput) {
        indent(1);
        os << "Input " << l->inputName << " : ";
        type(l->inputType);
        loc(l->inputLoc);
        os << "\n";
      }
      layers(l->layers, 1);
      if (!l->loss.empty()) {
        indent(1);
        os << "Loss " << l->loss;
        loc(l->lossLoc);
        os << "\n";
      }
    }
    for (const auto &c : m.cells) {
      os << "Cell " << c->name;
      loc(c->loc);
      os << "\n";
      params(c->params);
      for (const CellStmt &s : c->stmts) {
        indent(1);
        static const char *kinds[] = {"In", "State", "Meta", "Const",
                                      "Assign"};
        os << kinds[int(s.kind)];
        for (size_t i = 0; i < s.names.size(); ++i)
          os << (i ? ", " : " ") << s.names[i].first;
        if (s.kind == CellStmt::Kind::State ||
            s.kind == CellStmt::Kind::Meta) {
          os << " : ";
          type(s.type);
          if (s.perCoordinate)
            os << " per_coordinate";
          if (s.init) {
            os << " init ";
            expr(*s.init);
          }
        }
        if (s.value) {
          os << " = ";
          expr(*s.value);
        }
        loc(s.loc);
        os << "\n";
      }
    }
    for (const auto &e : m.episodes) {
      os << "Episode " << e->name;
      loc(e->loc);
      os << "\n";
      for (const EpisodeField &f : e->fields) {
        indent(1);
        os << f.key << " ";
        expr(*f.value);
        loc(f.loc);
        os << "\n";
      }
    }
  }

private:
  const llvm::SourceMgr &sm;
  llvm::raw_ostream &os;
};
} // namespace

void lopt::dump(const ModuleAST &module, const llvm::SourceMgr &sm,
                llvm::raw_ostream &os) {
  Dumper(sm, os).module(module);
}
