//===- EpisodeCommand.cpp - loptc episode: one meta-training episode ------===//
//
// Runs @E.meta_grad, the unrolled episode and its meta-gradient, in the
// reference interpreter on one seeded episode, prints the inner-step losses,
// the meta-loss and the meta-gradient, and optionally dumps everything to an
// .npz that `--meta` / `--data` read back.
//
//===----------------------------------------------------------------------===//
#include "tools/loptc/EpisodeSetup.h"

#include "codegen/Executor.h"
#include "interpreter/RefOps.h"
#include "runtime/Npz.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace lopt;
using namespace mlir;

namespace {

double norm(const Tensor<float> &t) {
  double s = 0;
  for (float v : t.data)
    s += double(v) * v;
  return std::sqrt(s);
}

} // namespace

int lopt::runEpisodeCommand(const EpisodeOptions &opts) {
  Description d;
  PreparedEpisode p;
  if (!prepareEpisode(d, opts, "episode", /*syntheticDefault=*/false, p))
    return 1;
  EpisodeOp ep = p.fns.episode;
  func::FuncOp fn = p.fns.metaGrad ? p.fns.metaGrad : p.fns.unrolled;

  int64_t numParams = p.meta.at("theta0").numel();
  llvm::outs() << "description: " << opts.file << ", episode '"
               << ep.getSymName() << "' (" << ep.getWays() << "-way "
               << ep.getShots() << "-shot, " << ep.getQueries()
               << " queries per class, " << ep.getSteps()
               << " inner steps, meta_gradient " << ep.getMetaGradient()
               << ")\n";
  llvm::outs() << "data: " << p.dataSource << "\n";
  if (!p.classNames.empty()) {
    llvm::outs() << "seed " << opts.seed << ", classes:";
    for (const std::string &c : p.classNames)
      llvm::outs() << " " << c;
    llvm::outs() << "\n";
  }
  llvm::outs() << "learner: " << numParams << " parameters\n";

  if (opts.backend != "interpreter" && opts.backend != "halide")
    return commandError("episode", "--backend must be interpreter or halide, "
                                   "got '" + opts.backend + "'");
  if (opts.precision != "float" && opts.precision != "double")
    return commandError("episode", "--precision must be float or double, got '" +
                                       opts.precision + "'");
  if (opts.precision == "double" && opts.backend != "interpreter")
    return commandError("episode", "--precision double needs --backend "
                                   "interpreter");
  std::vector<RtValue<float>> args, results;
  std::string error;
  if (!episodeArguments<float>(fn, p.data, p.meta, args, error))
    return commandError("episode", error);
  auto start = std::chrono::steady_clock::now();
  codegen::HalideExecutor halide;
  if (getenv("LOPT_CHECK_KERNELS")) // debugging: every kernel vs interpreter
    halide.checkAgainstInterpreter(std::atof(getenv("LOPT_CHECK_KERNELS")));
  bool ok;
  if (opts.backend == "halide") {
    ok = halide.run(fn, args, results, error);
  } else if (opts.precision == "double") {
    std::vector<RtValue<double>> argsD, resultsD;
    for (const RtValue<float> &a : args)
      argsD.push_back(a.cast<double>());
    ok = interpret<double>(fn, argsD, resultsD, error);
    for (const RtValue<double> &r : resultsD)
      results.push_back(r.cast<float>());
  } else {
    ok = interpret<float>(fn, args, results, error);
  }
  if (!ok)
    return commandError("episode", error);
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  std::map<std::string, Tensor<float>> r = namedResults(fn, results);

  const Tensor<float> &losses = r.at("step_losses");
  for (int64_t t = 0; t < losses.numel(); ++t)
    printLine("step %2lld  support loss %.6f", (long long)t + 1, losses[t]);
  printLine("meta-loss (query, theta_T, batch statistics) %.6f  accuracy "
            "%.4f",
            r.at("meta_loss")[0],
            ref::accuracy(r.at("query_logits"), p.data.queryY));
  if (r.count("query_eval_loss"))
    printLine("query (running statistics of the support steps) loss %.6f  "
              "accuracy %.4f",
              r.at("query_eval_loss")[0],
              ref::accuracy(r.at("query_eval_logits"), p.data.queryY));
  double total = 0;
  for (auto &[name, t] : r)
    if (llvm::StringRef(name).starts_with("grad/")) {
      double n = norm(t);
      total += n * n;
      printLine("  d meta-loss / d %-28s %-12s norm %.6e",
                name.substr(5).c_str(), shapeToString(t.shape).c_str(), n);
    }
  if (p.fns.metaGrad)
    printLine("meta-gradient global norm %.6e", std::sqrt(total));
  if (opts.backend == "halide")
    printLine("halide time %.2f s (%zu kernels JIT-compiled in %.2f s)",
              seconds, halide.numKernels(), halide.compileSeconds());
  else
    printLine("interpreter time %.2f s", seconds);

  if (opts.dump.empty())
    return 0;
  data::NpzWriter npz;
  npz.add("support_x", p.data.supportX);
  npz.add("support_y", p.data.supportY);
  npz.add("query_x", p.data.queryX);
  npz.add("query_y", p.data.queryY);
  for (const OperandInfo &a : describeArguments(fn))
    if (p.meta.count(a.name))
      npz.add(npzKey(a), p.meta.at(a.name));
  for (auto &[name, t] : r)
    npz.add(name, t);
  if (data::Status s = npz.write(opts.dump); !s)
    return commandError("episode", s.message());
  llvm::outs() << "wrote " << opts.dump << "\n";
  return 0;
}
