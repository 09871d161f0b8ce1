//===- BuildCommand.cpp - loptc FILE -o NAME: a standalone binary ---------===//
//
// The back end of the compiler: the episode's functions after the pipeline
// (@E.meta_grad to meta-train, @E.unrolled to meta-test) become kernel
// programs (codegen/Program), their buffers are planned (MemoryPlan), the
// unique kernels are compiled ahead of time by Halide (AotCompiler), the
// program tables are generated (DriverGen) and everything is linked with
// the prebuilt driver into one executable. Each stage can be shown:
// -emit=fused (programs, kernels and memory), -emit=halide (each kernel's
// lowered Halide statement), -emit=obj (one relocatable object), -emit=bin.
//
//===----------------------------------------------------------------------===//
#include "tools/loptc/EpisodeSetup.h"

#include "codegen/AotCompiler.h"
#include "codegen/DriverGen.h"
#include "codegen/MemoryPlan.h"
#include "codegen/Program.h"
#include "codegen/StreamPlan.h"
#include "interpreter/EpisodeRunner.h"
#include "tools/loptc/BuildConfig.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <thread>
#include <unistd.h>

using namespace lopt;
using namespace lopt::codegen;
using namespace mlir;

namespace {

/// The most streams a CUDA binary's steps run on (StreamPlan.h): a
/// meta-gradient's backward needs two (the chain, and the weight
/// gradients beside it), the rest is for steps that need nothing.
constexpr int kMaxStreams = 4;

struct Compiled {
  EpisodeFunctions fns;
  KernelTable table;
  std::vector<Program> programs;
  std::vector<MemoryPlan> plans;
  std::vector<StreamPlan> streams; // per program
  std::string fingerprint; // of the description, see ProgramABI.h
  bool trains = false;     // programs[0] is the meta-training step
};

std::string utcNow() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return buf;
}

BinaryInfo binaryInfo(const BuildOptions &opts, const ResolvedTarget &target,
                      const Compiled &c) {
  EpisodeOp ep = c.fns.episode;
  BinaryInfo info;
  info.source = opts.file;
  info.episode = ep.getSymName().str();
  info.target = target.full;
  info.deviceApi = target.deviceApi;
  info.compiled = utcNow();
  info.ints = {{"ways", ep.getWays()},         {"shots", ep.getShots()},
               {"queries", ep.getQueries()},   {"steps", ep.getSteps()},
               {"inner_batch", ep.getInnerBatch()},
               {"horizon", ep.getHorizon()}};
  info.reals = {{"lr", ep.getLr().convertToDouble()},
                {"beta1", ep.getBeta1().convertToDouble()},
                {"beta2", ep.getBeta2().convertToDouble()},
                {"epsilon", ep.getEpsilon().convertToDouble()},
                {"clip_norm", ep.getClipNorm().convertToDouble()}};
  info.strings = {{"meta_gradient", ep.getMetaGradient().str()},
                  {"meta_optimizer", ep.getMetaOptimizer().str()},
                  {"bn_eval", ep.getBnEval().str()},
                  {"init", ep.getInit().str()},
                  {"fingerprint", c.fingerprint}};
  info.inits = metaInitialisers(c.fns);
  info.trainFunction = c.trains ? 0 : -1;
  info.evalFunction = c.trains ? 1 : 0;
  for (const InitEntry &e : info.inits)
    if (!e.piece.empty())
      info.learnerParams += numElements(e.shape);
  return info;
}

/// A hash of the description as the front end read it (with overrides),
/// without the file's other episodes: what a checkpoint must match,
/// whatever the target.
std::string descriptionFingerprint(ModuleOp module, EpisodeOp episode) {
  OwningOpRef<ModuleOp> copy(module.clone());
  for (EpisodeOp other :
       llvm::make_early_inc_range(copy->getOps<EpisodeOp>()))
    if (other.getSymName() != episode.getSymName())
      other.erase();
  std::string text;
  llvm::raw_string_ostream os(text);
  copy->print(os);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx",
                (unsigned long long)llvm::xxh3_64bits(text));
  return buf;
}

/// -emit=fused: the kernel programs, their kernels and their memory.
void printPrograms(const Compiled &c, llvm::raw_ostream &os) {
  os << "// " << c.table.kernels.size() << " kernels\n";
  for (size_t k = 0; k < c.table.kernels.size(); ++k) {
    const KernelGraph &g = c.table.kernels[k];
    os << "kernel @k" << k << " (";
    for (size_t a = 0; a < g.args.size(); ++a)
      os << (a ? ", " : "") << shapeToString(g.nodes[g.args[a]].shape)
         << (g.coords > 0 && g.mapped[a] ? "*" : "");
    os << ")";
    if (g.coords > 0)
      os << " mapped over " << g.coords << " coordinates";
    os << ": ";
    int ops = 0;
    for (const KernelNode &n : g.nodes)
      if (n.op != "arg" && n.op != "result")
        os << (ops++ ? ", " : "") << n.op;
    char flops[64];
    std::snprintf(flops, sizeof flops, " (%.4g FLOP)\n", kernelFlops(g));
    os << flops;
  }
  for (size_t f = 0; f < c.programs.size(); ++f) {
    const Program &p = c.programs[f];
    const MemoryPlan &plan = c.plans[f];
    char head[256];
    std::snprintf(head, sizeof head,
                  "\nprogram @%s: %zu steps, %.4g FLOP, arena %lld bytes "
                  "(%lld without reuse)\n",
                  p.name.c_str(), p.steps.size(), programFlops(p, c.table),
                  (long long)plan.arenaBytes, (long long)plan.totalBytes);
    os << head;
    const StreamPlan &streams = c.streams[f];
    if (streams.streams > 1)
      os << "  streams " << streams.streams << ": the longest chain of "
         << "dependent steps " << streams.chainSteps << "; "
         << streams.sideSteps << " steps beside the longest chains of "
         << "their data\n";
    auto slot = [&](int s) {
      std::string t = "%" + std::to_string(s);
      if (p.values[s].storage != s)
        t += "=%" + std::to_string(p.values[s].storage);
      return t + "@" + std::to_string(plan.offset[s]);
    };
    for (size_t a = 0; a < p.args.size(); ++a)
      os << "  arg " << slot(p.args[a]) << " " << p.argInfo[a].name << " "
         << shapeToString(p.values[p.args[a]].shape) << "\n";
    for (size_t k = 0; k < p.steps.size(); ++k) {
      const ProgramStep &s = p.steps[k];
      os << "  ";
      for (size_t o = 0; o < s.outputs.size(); ++o)
        os << (o ? ", " : "") << slot(s.outputs[o]);
      os << " = @k" << s.kernel << "(";
      for (size_t i = 0; i < s.inputs.size(); ++i)
        os << (i ? ", " : "") << slot(s.inputs[i]);
      os << ")";
      // A CUDA binary's: the bytes of the stages its kernel stores, and the
      // arena's range they go in.
      if (plan.stageBytes[k] > 0)
        os << " stages " << plan.stageBytes[k] << " in "
           << plan.scratch[k].second << "@" << plan.scratch[k].first;
      // On which stream, after which steps of other streams (numbered from
      // 0 in this listing).
      if (streams.streams > 1) {
        os << " on stream " << streams.stream[k];
        for (size_t w = 0; w < streams.waits[k].size(); ++w)
          os << (w ? ", " : " after step ") << streams.waits[k][w];
      }
      os << "  // " << s.op << "\n";
    }
    for (size_t r = 0; r < p.results.size(); ++r)
      os << "  result " << slot(p.results[r]) << " "
         << (p.resultInfo[r].role == "grad" ? "grad/" : "")
         << p.resultInfo[r].name << "\n";
  }
}

/// Where a program's planned memory peaks: the step, and the buffers alive
/// there from the largest, each with the steps that write it and last read
/// it (numbered as in -emit=fused), until those listed hold 90% of the
/// peak, at most 8.
void printPeak(const Program &p, const MemoryPlan &plan, llvm::raw_ostream &os) {
  auto stepName = [&](int k) {
    if (k < 0)
      return std::string("an argument");
    if (k >= int(p.steps.size()))
      return std::string("a result");
    std::string op = p.steps[k].op;
    if (op.size() > 40)
      op = op.substr(0, 37) + "...";
    return "step " + std::to_string(k) + " @k" +
           std::to_string(p.steps[k].kernel) + " (" + op + ")";
  };
  os << "  peak at " << stepName(plan.peakStep) << ":\n";
  std::vector<int> alive;
  for (size_t s = 0; s < plan.lifetime.size(); ++s) {
    auto [first, last] = plan.lifetime[s];
    if (p.values[s].storage == int(s) && first <= plan.peakStep &&
        plan.peakStep <= last)
      alive.push_back(int(s));
  }
  std::stable_sort(alive.begin(), alive.end(), [&](int a, int b) {
    return slotBytes(p.values[a]) > slotBytes(p.values[b]);
  });
  int64_t listed = 0;
  size_t shown = 0;
  if (plan.peakStep >= 0 && plan.peakStep < int(plan.stageBytes.size()) &&
      plan.stageBytes[plan.peakStep] > 0) {
    listed += plan.stageBytes[plan.peakStep];
    char line[128];
    std::snprintf(line, sizeof line,
                  "    %.2f MiB: the stages its kernel stores on the device\n",
                  double(plan.stageBytes[plan.peakStep]) / (1 << 20));
    os << line;
  }
  for (int s : alive) {
    if (listed >= plan.livePeakBytes * 9 / 10 || shown == 8)
      break;
    listed += slotBytes(p.values[s]);
    ++shown;
    char line[128];
    std::snprintf(line, sizeof line, "    %%%d %s %.2f MiB: ", s,
                  shapeToString(p.values[s].shape).c_str(),
                  double(slotBytes(p.values[s])) / (1 << 20));
    os << line << "from " << stepName(plan.lifetime[s].first) << " to "
       << stepName(plan.lifetime[s].second) << "\n";
  }
  if (shown < alive.size())
    os << "    (" << alive.size() << " buffers alive there in all)\n";
}

/// -emit=cost: what one meta-iteration costs, without compiling it.
void printCost(const Compiled &c, llvm::raw_ostream &os) {
  BinaryInfo info = binaryInfo(BuildOptions(), ResolvedTarget(), c);
  char line[256];
  std::snprintf(line, sizeof line,
                "episode %s: %lld learner parameters, %zu kernels\n",
                info.episode.c_str(), (long long)info.learnerParams,
                c.table.kernels.size());
  os << line;
  for (size_t f = 0; f < c.programs.size(); ++f) {
    std::snprintf(line, sizeof line,
                  "%s: %zu steps, %.4f GFLOP, planned memory %.2f MiB (%.2f "
                  "MiB alive at most, %.2f MiB without reuse)\n",
                  c.programs[f].name.c_str(), c.programs[f].steps.size(),
                  programFlops(c.programs[f], c.table) / 1e9,
                  double(c.plans[f].arenaBytes) / (1 << 20),
                  double(c.plans[f].livePeakBytes) / (1 << 20),
                  double(c.plans[f].totalBytes) / (1 << 20));
    os << line;
    printPeak(c.programs[f], c.plans[f], os);
  }
}

/// Runs `args` (args[0] is the program); false with `error` when it fails.
bool runTool(const std::vector<std::string> &args, std::string &error) {
  std::vector<llvm::StringRef> refs(args.begin(), args.end());
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(args[0], refs, std::nullopt, {}, 0, 0,
                                     &msg);
  if (rc != 0) {
    error = "'" + args[0] + "' failed" + (msg.empty() ? "" : ": " + msg) +
            " (exit code " + std::to_string(rc) + "); command:";
    for (const std::string &a : args)
      error += " " + a;
    return false;
  }
  return true;
}

/// A temporary folder removed (with its files) when this goes away.
struct TempDir {
  std::string path;
  bool keep = false;
  bool create(std::string &error) {
    llvm::SmallString<128> p;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("lopt-build", p)) {
      error = "cannot create a temporary folder: " + ec.message();
      return false;
    }
    path = p.str().str();
    return true;
  }
  ~TempDir() {
    if (!path.empty() && !keep)
      llvm::sys::fs::remove_directories(path);
  }
};

/// Compiles the kernels and the generated program into `dir`; `objects`
/// gets every object to link.
bool compileObjects(const BuildOptions &opts, const ResolvedTarget &target,
                    const Compiled &c, const std::string &dir,
                    std::vector<std::string> &objects, std::string &error) {
  AotOptions aot;
  aot.target = opts.target;
  aot.jobs = opts.jobs > 0 ? opts.jobs
                           : int(std::max(1u, std::thread::hardware_concurrency()));
  aot.cacheDir = opts.cacheDir;
  if (!aot.cacheDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(aot.cacheDir)) {
      error = "--cache: cannot create '" + aot.cacheDir + "': " + ec.message();
      return false;
    }
  }
  aot.plan = [&](size_t todo, size_t total) {
    llvm::errs() << "loptc: compiling " << todo << " of " << total
                 << " kernels for " << opts.target;
    if (todo < total)
      llvm::errs() << " (" << total - todo << " from the cache)";
    if (todo > 1)
      llvm::errs() << " in " << std::min<size_t>(todo, size_t(aot.jobs))
                   << " processes";
    llvm::errs() << "\n";
  };
  if (!compileKernels(c.table, dir, aot, objects, error))
    return false;
  std::string src = dir + "/program.cpp";
  {
    std::ofstream out(src);
    out << generateProgramSource(binaryInfo(opts, target, c), c.table,
                                 c.programs, c.plans, c.streams);
    if (!out) {
      error = "cannot write " + src;
      return false;
    }
  }
  std::string obj = dir + "/program.o";
  if (!runTool({LOPT_CXX, "-std=c++17", "-O1", "-c", "-I", LOPT_INCLUDE_DIR,
                src, "-o", obj},
               error))
    return false;
  objects.push_back(obj);
  return true;
}

/// Links (or, for -emit=obj, combines) `objects` into `out`, atomically:
/// a failed step leaves nothing at `out`.
bool linkOutput(const std::vector<std::string> &objects, bool relocatable,
                const std::string &out, std::string &error) {
  std::string tmp = out + ".tmp-" + std::to_string(::getpid());
  std::vector<std::string> cmd = {LOPT_CXX};
  if (relocatable)
    cmd.push_back("-r");
  cmd.insert(cmd.end(), objects.begin(), objects.end());
  if (!relocatable) {
    llvm::SmallVector<llvm::StringRef> libs;
    llvm::SplitString(LOPT_LINK_LIBS, libs);
    cmd.insert(cmd.end(), libs.begin(), libs.end());
  }
  cmd.push_back("-o");
  cmd.push_back(tmp);
  if (!runTool(cmd, error)) {
    llvm::sys::fs::remove(tmp);
    return false;
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, out)) {
    llvm::sys::fs::remove(tmp);
    error = "cannot write '" + out + "': " + ec.message();
    return false;
  }
  return true;
}

} // namespace

int lopt::runBuildCommand(const BuildOptions &opts) {
  const char *cmd = "build";
  std::string error;
  ResolvedTarget target;
  if (!resolveTarget(opts.target, target, error))
    return commandError(cmd, "--target: " + error);
  bool text = opts.emit == "cost" || opts.emit == "fused" ||
              opts.emit == "halide";
  if (!text &&
      (opts.output.empty() || opts.output == "-"))
    return commandError(cmd, "-emit=" + opts.emit + " needs -o FILE");
  Description d;
  // The kernel compiler forks; no MLIR worker threads may exist then.
  d.context.disableMultithreading();
  if (!d.load(opts.file))
    return 1;
  EpisodeOp ep = d.findEpisode(opts.file, opts.episode);
  if (!ep || !applyOverrides(ep, opts.truncation, opts.steps, cmd))
    return 1;
  Compiled c;
  c.fingerprint = descriptionFingerprint(*d.module, ep);
  // A CPU keeps every cell step's states and its first layer's output for
  // the backward: memory is plentiful there (Omniglot 5w1s 0.92x the time,
  // 44.8 -> 70.8 MiB; Mini-ImageNet 5w5s 0.94x, 113.2 -> 169.6 MiB).
  PipelineOptions pipeline;
  pipeline.recomputeCellSteps = !target.deviceApi.empty();
  pipeline.recomputeConvolutions = !target.deviceApi.empty();
  if (!d.runPipeline(Stage::MetaGrad, pipeline))
    return 1;
  if (!c.fns.find(*d.module, ep, error))
    return commandError(cmd, error);
  std::vector<func::FuncOp> fns{c.fns.unrolled};
  if (c.fns.metaGrad)
    fns.insert(fns.begin(), c.fns.metaGrad);
  for (func::FuncOp fn : fns) {
    Program p;
    // OpenCL sub-buffers must start at planned slot alignments, CUDA
    // views at 16 bytes (a kernel's 4-float vector loads assume it); on
    // CUDA a bias gradient's sum may run beside the steps after it.
    ProgramOptions po;
    po.viewAlignment = target.deviceApi == "opencl" ? kSlotAlignment
                       : target.deviceApi == "cuda" ? 16 : 4;
    po.sumsOfResultsApart = target.deviceApi == "cuda";
    if (!buildProgram(fn, c.table, p, error, nullptr, po))
      return commandError(cmd, fn.getSymName() + ": " + error);
    if (fn == c.fns.metaGrad) {
      // Without meta-parameters (e.g. SGD from a random init, the
      // fine-tuning baseline) there is nothing to train: the binary only
      // meta-tests.
      c.trains = llvm::any_of(p.resultInfo, [](const auto &r) {
        return r.role == "grad";
      });
      if (!c.trains)
        continue;
    }
    c.programs.push_back(std::move(p));
  }
  // A CUDA binary's kernels store their stages in the arena's range that
  // their step leaves free (runtime/driver/Device.cpp): planned, so that it
  // is large enough and nothing is allocated beside the arena.
  std::vector<int64_t> stageBytes; // per kernel
  if (target.deviceApi == "cuda" &&
      !kernelStageBytes(c.table, opts.target, stageBytes, error))
    return commandError(cmd, error);
  for (const Program &p : c.programs) {
    std::vector<int64_t> stages;
    if (!stageBytes.empty())
      for (const ProgramStep &step : p.steps)
        stages.push_back(stageBytes[step.kernel]);
    // A CUDA binary's steps may run on several streams (StreamPlan.h):
    // what a step off the longest chains touches is kept for the steps
    // it may run beside.
    bool cuda = target.deviceApi == "cuda";
    MemoryPlan plan = planMemory(
        p, stages, cuda ? keepUntilForStreams(p) : std::vector<int>{});
    StreamPlan streams =
        cuda ? planStreams(p, plan, kMaxStreams) : singleStream(p);
    if (std::string bad = verifyMemoryPlan(p, plan); !bad.empty())
      return commandError(cmd, "memory plan of " + p.name + ": " + bad);
    if (std::string bad = verifyStreamPlan(p, plan, streams); !bad.empty())
      return commandError(cmd, "stream plan of " + p.name + ": " + bad);
    c.plans.push_back(std::move(plan));
    c.streams.push_back(std::move(streams));
  }

  if (text) {
    std::error_code ec;
    llvm::raw_fd_ostream out(opts.output.empty() ? "-" : opts.output, ec);
    if (ec)
      return commandError(cmd, "cannot write '" + opts.output + "': " +
                                   ec.message());
    if (opts.emit == "cost") {
      printCost(c, out);
      return 0;
    }
    if (opts.emit == "fused") {
      printPrograms(c, out);
      return 0;
    }
    for (size_t k = 0; k < c.table.kernels.size(); ++k) {
      std::string text;
      if (!kernelStatement(c.table, k, opts.target, text, error))
        return commandError(cmd, "kernel " + std::to_string(k) + ": " + error);
      out << "// kernel @k" << k << "\n" << text << "\n";
    }
    return 0;
  }

  auto start = std::chrono::steady_clock::now();
  TempDir dir;
  dir.keep = opts.keepTemps;
  std::vector<std::string> objects;
  if (!dir.create(error) ||
      !compileObjects(opts, target, c, dir.path, objects, error) ||
      !linkOutput(objects, opts.emit == "obj", opts.output, error))
    return commandError(cmd, error);
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  std::string functions;
  for (const Program &p : c.programs)
    functions += ", " + p.name + " " + std::to_string(p.steps.size()) + " steps";
  printLine("wrote %s: %zu kernels%s, %.3f GFLOP per %s, arena %.2f MiB; "
            "compiled in %.1f s",
            opts.output.c_str(), c.table.kernels.size(), functions.c_str(),
            programFlops(c.programs[0], c.table) / 1e9,
            c.trains ? "meta-iteration" : "episode",
            double(c.plans[0].arenaBytes) / (1 << 20), seconds);
  if (dir.keep)
    printLine("kept the intermediate files in %s", dir.path.c_str());
  return 0;
}
