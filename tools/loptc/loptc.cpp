//===- loptc.cpp - the lopt compiler driver -------------------------------===//
//
//   loptc FILE.lopt -emit=ast|mlir [-o OUT]     show a pipeline stage
//   loptc --check-halide                        Halide JIT self-check
//   loptc episode FILE.lopt [--data DIR] [--seed N] [--episode NAME]
//                                               run an episode through the
//                                               reference interpreter
//
//===----------------------------------------------------------------------===//
#include "tools/loptc/Driver.h"

#include "codegen/HalideCheck.h"
#include "dialect/LoptDialect.h"
#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace lopt;
namespace cl = llvm::cl;

namespace {
enum class Emit { AST, MLIR };

cl::SubCommand episodeCmd("episode",
                          "Run one seeded episode of a description on real "
                          "data through the reference interpreter");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<file.lopt>"),
                               cl::sub(cl::SubCommand::getTopLevel()),
                               cl::sub(episodeCmd));
cl::opt<Emit> emit("emit", cl::desc("Stage to print"), cl::init(Emit::MLIR),
                   cl::values(clEnumValN(Emit::AST, "ast", "the syntax tree"),
                              clEnumValN(Emit::MLIR, "mlir",
                                         "the lopt dialect")));
cl::opt<bool> checkHalideFlag(
    "check-halide",
    cl::desc("Check that Halide JIT-compiles and runs in this process"));
cl::opt<std::string> outputFile("o", cl::desc("Output file (default stdout)"),
                                cl::value_desc("file"), cl::init("-"));

cl::opt<std::string> dataPath(
    "data", cl::sub(episodeCmd),
    cl::desc("Dataset folder (Omniglot, Mini-ImageNet or Fashion-MNIST); "
             "default: ../shared/data/omniglot, else Debian's Fashion-MNIST"),
    cl::value_desc("dir"));
cl::opt<uint64_t> seed("seed", cl::sub(episodeCmd), cl::init(1),
                       cl::desc("Seed for the episode and the initial "
                                "parameters"));
cl::opt<std::string> episodeName(
    "episode", cl::sub(episodeCmd),
    cl::desc("Which episode of the file to run (default: the first)"));
} // namespace

struct Description::Handler {
  Handler(llvm::SourceMgr &sm, mlir::MLIRContext &ctx) : h(sm, &ctx) {}
  mlir::SourceMgrDiagnosticHandler h;
};

Description::Description()
    : handler(std::make_unique<Handler>(sourceMgr, context)) {
  context.getOrLoadDialect<LoptDialect>();
  context.getOrLoadDialect<mlir::func::FuncDialect>();
}
Description::~Description() = default;

bool Description::load(const std::string &path) {
  ast = parseFile(path, sourceMgr);
  if (!ast)
    return false;
  module = mlirGen(context, *ast, sourceMgr);
  return bool(module);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "lopt: a compiler for learned "
                                          "optimizers\n");
  if (checkHalideFlag) {
    std::string report;
    bool ok = codegen::checkHalide(report);
    (ok ? llvm::outs() : llvm::errs())
        << (ok ? "" : "loptc: error: ") << report << "\n";
    return ok ? 0 : 1;
  }
  if (inputFile.empty()) {
    llvm::errs() << "loptc: error: no input file; usage: loptc FILE.lopt "
                    "-emit=ast|mlir, or loptc episode FILE.lopt\n";
    return 1;
  }
  if (episodeCmd)
    return runEpisodeCommand(inputFile, dataPath, episodeName, seed);

  Description d;
  if (emit == Emit::AST) {
    d.ast = parseFile(inputFile, d.sourceMgr);
    if (!d.ast)
      return 1;
  } else if (!d.load(inputFile)) {
    return 1;
  }
  std::error_code ec;
  // ToolOutputFile deletes a half-written output unless keep() is reached.
  llvm::ToolOutputFile out(outputFile, ec, llvm::sys::fs::OF_Text);
  if (ec) {
    llvm::errs() << "loptc: error: cannot write '" << outputFile
                 << "': " << ec.message() << "\n";
    return 1;
  }
  if (emit == Emit::AST)
    dump(*d.ast, d.sourceMgr, out.os());
  else
    d.module->print(out.os());
  out.keep();
  return 0;
}
