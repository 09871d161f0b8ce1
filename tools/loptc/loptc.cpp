//===- loptc.cpp - the lopt compiler driver -------------------------------===//
//
//   loptc FILE.lopt -emit=ast|mlir|grad|unrolled|metagrad [-o OUT]
//   loptc FILE.lopt -emit=cost|fused|halide [-o OUT] [--target T]
//   loptc FILE.lopt -o NAME [-emit=obj|bin] [--target T] [-j N]
//   loptc episode FILE.lopt [--data DIR|EPISODE.npz] [--meta PARAMS.npz]
//                           [--dump OUT.npz] [--seed N] [--episode NAME]
//   loptc gradcheck FILE.lopt [--truncation first_order|full|horizon=K]
//                             [--steps N] [--samples K] [--tolerance T]
//   loptc compare GOT.npz REFERENCE.npz [--exact DOUBLE.npz] [--tolerance T]
//   loptc --check-halide
//
//===----------------------------------------------------------------------===//
#include "tools/loptc/Driver.h"

#include "codegen/HalideCheck.h"
#include "dialect/LoptDialect.h"
#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace lopt;
namespace cl = llvm::cl;

namespace {
enum class Emit { AST, MLIR, Grad, Unrolled, MetaGrad, Cost, Fused, Halide, Obj, Bin };

cl::SubCommand episodeCmd("episode",
                          "Run one seeded meta-training episode through the "
                          "reference interpreter");
cl::SubCommand gradcheckCmd("gradcheck",
                            "Check the meta-gradient against finite "
                            "differences of the meta-loss");

cl::SubCommand compareCmd("compare",
                          "Check that every array of a reference .npz is "
                          "in another and agrees within a tolerance");
cl::list<std::string> compareFiles(cl::Positional, cl::sub(compareCmd),
                                   cl::desc("<got.npz> <reference.npz>"));
cl::opt<double> compareTolerance(
    "tolerance", cl::sub(compareCmd), cl::init(1e-4),
    cl::desc("Largest accepted difference relative to the reference "
             "array's largest magnitude"));

cl::opt<std::string> compareExact(
    "exact", cl::sub(compareCmd),
    cl::desc("The same run in double precision: an array also passes when "
             "it is no further from it than 10x the reference is"),
    cl::value_desc("file.npz"));

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<file.lopt>"),
                               cl::sub(cl::SubCommand::getTopLevel()),
                               cl::sub(episodeCmd), cl::sub(gradcheckCmd));
cl::opt<Emit> emit(
    "emit", cl::desc("Stage to print"), cl::init(Emit::MLIR),
    cl::values(
        clEnumValN(Emit::AST, "ast", "the syntax tree"),
        clEnumValN(Emit::MLIR, "mlir", "the lopt dialect"),
        clEnumValN(Emit::Grad, "grad", "+ learner gradients"),
        clEnumValN(Emit::Unrolled, "unrolled", "+ unrolled episodes"),
        clEnumValN(Emit::MetaGrad, "metagrad", "+ meta-gradients"),
        clEnumValN(Emit::Cost, "cost",
                   "FLOPs and planned memory per meta-iteration"),
        clEnumValN(Emit::Fused, "fused",
                   "kernel programs: steps, kernels, planned buffers"),
        clEnumValN(Emit::Halide, "halide",
                   "each kernel's lowered Halide statement"),
        clEnumValN(Emit::Obj, "obj", "one object file (kernels, program)"),
        clEnumValN(Emit::Bin, "bin",
                   "a standalone binary (the default with -o)")));
cl::opt<std::string> target("target", cl::init("host"),
                            cl::desc("Halide target of the kernels"),
                            cl::value_desc("host|<halide target>"));
cl::opt<int> jobs("j", cl::init(0),
                  cl::desc("Kernel compile processes (default: one per "
                           "core)"));
cl::opt<std::string> cacheDir(
    "cache",
    cl::desc("Keep compiled kernels in DIR and reuse them in later builds "
             "(default: $LOPT_CACHE_DIR, else none)"),
    cl::value_desc("DIR"));
cl::opt<bool> keepTemps("keep-temps",
                        cl::desc("Keep the generated program and objects"));
cl::opt<bool> checkHalideFlag(
    "check-halide",
    cl::desc("Check that Halide JIT-compiles and runs in this process"));
cl::opt<std::string> outputFile("o", cl::desc("Output file (default stdout)"),
                                cl::value_desc("file"), cl::init("-"));

cl::opt<std::string> dataPath(
    "data", cl::sub(episodeCmd), cl::sub(gradcheckCmd),
    cl::desc("Dataset folder (Omniglot, Mini-ImageNet or Fashion-MNIST) or an "
             "episode .npz; episode's default: ../shared/data/omniglot, else "
             "Debian's Fashion-MNIST; gradcheck's default: random images"),
    cl::value_desc("dir|file.npz"));
cl::opt<std::string> metaPath(
    "meta", cl::sub(episodeCmd), cl::sub(gradcheckCmd),
    cl::desc("Meta-parameters (and initial cell states) from an .npz"),
    cl::value_desc("file.npz"));
cl::opt<std::string> dumpPath(
    "dump", cl::sub(episodeCmd),
    cl::desc("Write the episode, meta-parameters, losses and meta-gradient "
             "to an .npz"),
    cl::value_desc("file.npz"));
cl::opt<std::string> backend(
    "backend", cl::sub(episodeCmd), cl::init("interpreter"),
    cl::desc("Run with the reference interpreter or with JIT-compiled Halide "
             "kernels (interpreter|halide)"));
cl::opt<std::string> precision(
    "precision", cl::sub(episodeCmd), cl::init("float"),
    cl::desc("Interpreter arithmetic: float or double"));
cl::opt<uint64_t> seed("seed", cl::sub(episodeCmd), cl::sub(gradcheckCmd),
                       cl::init(1),
                       cl::desc("Seed for the episode and the initial "
                                "parameters"));
cl::opt<std::string> episodeName(
    "episode", cl::sub(cl::SubCommand::getTopLevel()), cl::sub(episodeCmd),
    cl::sub(gradcheckCmd),
    cl::desc("Which episode of the file (default: the first)"));
cl::opt<std::string> truncation(
    "truncation", cl::sub(cl::SubCommand::getTopLevel()), cl::sub(episodeCmd),
    cl::sub(gradcheckCmd),
    cl::desc("Override the meta-gradient policy: first_order, full or "
             "horizon=K"));
cl::opt<int64_t> steps("steps", cl::sub(cl::SubCommand::getTopLevel()),
                       cl::sub(episodeCmd), cl::sub(gradcheckCmd), cl::init(0),
                       cl::desc("Override the number of inner steps"));
cl::opt<int> samples("samples", cl::sub(gradcheckCmd), cl::init(3),
                     cl::desc("Coordinates checked per meta-parameter"));
cl::opt<double> tolerance("tolerance", cl::sub(gradcheckCmd), cl::init(1e-3),
                          cl::desc("Largest accepted relative error"));
cl::opt<double> fdStep("fd-step", cl::sub(gradcheckCmd), cl::init(1e-6),
                       cl::desc("Finite-difference step, relative to "
                                "max(1, |value|)"));
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

bool Description::runPipeline(Stage stage, const PipelineOptions &options) {
  mlir::PassManager pm(&context);
  buildPipeline(pm, stage, options);
  return mlir::succeeded(pm.run(*module));
}

EpisodeOp Description::findEpisode(const std::string &file,
                                   const std::string &name) {
  for (auto e : module->getOps<EpisodeOp>())
    if (name.empty() || e.getSymName() == name)
      return e;
  llvm::errs() << "loptc: error: '" << file << "' "
               << (name.empty() ? "declares no episode"
                                : "has no episode named '" + name + "'")
               << "\n";
  return nullptr;
}

int lopt::commandError(const char *command, const llvm::Twine &msg) {
  llvm::errs() << "loptc " << command << ": error: " << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAll();
  cl::ParseCommandLineOptions(argc, argv, "lopt: a compiler for learned "
                                          "optimizers\n");
  if (checkHalideFlag) {
    std::string report;
    bool ok = codegen::checkHalide(report);
    (ok ? llvm::outs() : llvm::errs())
        << (ok ? "" : "loptc: error: ") << report << "\n";
    return ok ? 0 : 1;
  }
  if (compareCmd) {
    if (compareFiles.size() != 2) {
      llvm::errs() << "loptc compare: error: expected two .npz files (got, "
                      "reference)\n";
      return 1;
    }
    return runCompareCommand(compareFiles[0], compareFiles[1], compareExact,
                             compareTolerance);
  }
  if (inputFile.empty()) {
    llvm::errs() << "loptc: error: no input file; usage: loptc FILE.lopt "
                    "-emit=ast|mlir|grad|unrolled|metagrad, loptc episode "
                    "FILE.lopt, or loptc gradcheck FILE.lopt\n";
    return 1;
  }
  if (episodeCmd || gradcheckCmd) {
    EpisodeOptions opts;
    opts.file = inputFile;
    opts.episode = episodeName;
    opts.data = dataPath;
    opts.meta = metaPath;
    opts.dump = dumpPath;
    opts.backend = backend;
    opts.precision = precision;
    opts.seed = seed;
    opts.truncation = truncation;
    opts.steps = steps;
    opts.samples = samples;
    opts.tolerance = tolerance;
    opts.fdStep = fdStep;
    return episodeCmd ? runEpisodeCommand(opts) : runGradcheckCommand(opts);
  }

  // With -o and no -emit: a binary.
  bool buildBinary = emit.getNumOccurrences() == 0 && outputFile != "-";
  if (emit >= Emit::Cost || buildBinary) {
    BuildOptions opts;
    opts.file = inputFile;
    opts.episode = episodeName;
    opts.output = outputFile;
    opts.target = target;
    opts.jobs = jobs;
    opts.keepTemps = keepTemps;
    opts.cacheDir = cacheDir;
    opts.truncation = truncation;
    opts.steps = steps;
    if (cacheDir.getNumOccurrences() == 0 && getenv("LOPT_CACHE_DIR"))
      opts.cacheDir = getenv("LOPT_CACHE_DIR");
    const char *names[] = {"cost", "fused", "halide", "obj", "bin"};
    opts.emit = buildBinary ? "bin" : names[int(emit.getValue()) - int(Emit::Cost)];
    return runBuildCommand(opts);
  }

  Description d;
  if (emit == Emit::AST) {
    d.ast = parseFile(inputFile, d.sourceMgr);
    if (!d.ast)
      return 1;
  } else if (!d.load(inputFile)) {
    return 1;
  } else if (emit != Emit::MLIR &&
             !d.runPipeline(emit == Emit::Grad       ? Stage::Grad
                            : emit == Emit::Unrolled ? Stage::Unrolled
                                                     : Stage::MetaGrad)) {
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
