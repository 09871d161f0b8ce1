//===- Driver.h - shared pieces of the loptc commands -----------*- C++ -*-===//
#ifndef LOPT_TOOLS_LOPTC_DRIVER_H
#define LOPT_TOOLS_LOPTC_DRIVER_H

#include "dialect/LoptOps.h"
#include "frontend/AST.h"
#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

#include <memory>
#include <optional>
#include <string>

namespace lopt {

/// A parsed and lowered description. Diagnostics go to stderr as
/// `file:line:col: error: ...` for as long as this object lives.
struct Description {
  Description();
  ~Description();
  /// Parses `path` (and its imports) and generates verified lopt IR.
  bool load(const std::string &path);
  /// Runs the pass pipeline up to `stage`.
  bool runPipeline(Stage stage, const PipelineOptions &options = {});
  /// The episode named `name`, or the first one; prints an error naming
  /// `file` and returns null when there is none.
  EpisodeOp findEpisode(const std::string &file, const std::string &name);

  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<ModuleAST> ast;
  mlir::OwningOpRef<mlir::ModuleOp> module;

private:
  struct Handler;
  std::unique_ptr<Handler> handler;
};

/// Options shared by `loptc episode` and `loptc gradcheck`.
struct EpisodeOptions {
  std::string file, episode;
  std::string data;  // dataset folder or episode .npz ("" = default)
  std::string meta;  // meta-parameter .npz ("" = draw from initialisers)
  std::string dump;  // output .npz ("" = none)
  std::string backend = "interpreter"; // episode: or "halide"
  std::string precision = "float";     // episode, interpreter: or "double"
  uint64_t seed = 1;
  // gradcheck
  std::string truncation; // "" = the description's
  int64_t steps = 0;      // 0 = the description's
  int samples = 3;
  double tolerance = 1e-3;
  double fdStep = 1e-6;
  bool synthetic = false; // gradcheck: random images unless --data is given
};

/// Options of `loptc FILE -o NAME` and of the code generation stages.
struct BuildOptions {
  std::string file, episode;
  std::string emit = "bin"; // cost|fused|halide|obj|bin
  std::string output;       // "-" or "" = stdout (text stages only)
  std::string target = "host";
  int jobs = 0;             // 0 = one compile process per core
  std::string cacheDir;     // kernel objects kept across builds ("" = none)
  std::string truncation;   // "" = the description's
  int64_t steps = 0;        // 0 = the description's
  bool keepTemps = false;
};

/// Code generation: the kernel programs (-emit=cost|fused), Halide
/// (-emit=halide), one object (-emit=obj) or a standalone binary.
int runBuildCommand(const BuildOptions &opts);

/// `loptc compare GOT.npz REF.npz`: every array of REF is in GOT and agrees
/// within `tolerance` relative to its largest magnitude (or, given EXACT, the
/// double-precision run, is no further from it than 10x the reference).
int runCompareCommand(const std::string &got, const std::string &ref,
                      const std::string &exact, double tolerance);

/// `loptc episode`: one meta-training episode through the interpreter.
int runEpisodeCommand(const EpisodeOptions &opts);
/// `loptc gradcheck`: meta-gradient against finite differences.
int runGradcheckCommand(const EpisodeOptions &opts);

/// A printf-style line on stdout. (llvm::format would instantiate LLVM
/// templates in this binary, next to Halide's libLLVM-14.)
template <typename... Args> void printLine(const char *fmt, Args... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  llvm::outs() << buf << "\n";
}

/// Prints "loptc <command>: error: <msg>" and returns 1.
int commandError(const char *command, const llvm::Twine &msg);

} // namespace lopt

#endif // LOPT_TOOLS_LOPTC_DRIVER_H
