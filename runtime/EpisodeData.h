//===- EpisodeData.h - the data of one episode ------------------*- C++ -*-===//
//
// What the episode functions take as data, from any of its three sources:
// seeded random images of the right shapes (gradient checks, tests,
// benchmarks), an episode .npz (`loptc episode --dump` writes one), or an
// N-way K-shot episode sampled from a dataset folder. Shared by `loptc` and
// the generated binaries, so both read the same episode for the same
// arguments.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_EPISODEDATA_H
#define LOPT_RUNTIME_EPISODEDATA_H

#include "runtime/Dataset.h"
#include "runtime/EpisodeSampler.h"
#include "runtime/Tensor.h"

#include <string>
#include <vector>

namespace lopt {

struct EpisodeData {
  Tensor<float> supportX, queryX;  // [n, C, H, W], class-major
  Tensor<int32_t> supportY, queryY; // labels 0..ways-1
};

/// Seeded random images in [0, 1) and balanced class-major labels, like the
/// episode sampler lays real episodes out; `supportX`/`queryX` give the
/// image batches' shapes ([n, ...]).
EpisodeData syntheticEpisode(const Shape &supportX, const Shape &queryX,
                             int64_t ways, uint64_t seed);

/// The arrays support_x, support_y, query_x, query_y of the .npz at `path`,
/// with the given image shapes; errors name the file and the array.
data::Status readEpisodeNpz(const std::string &path, const Shape &supportX,
                            const Shape &queryX, EpisodeData &out);

/// One seeded episode of `shape` (ways, shots, queries) from the training
/// split of the dataset at `path`, images resized to `supportX`'s
/// [C, H, W]; `source` gets the dataset's description and `classNames` the
/// classes, by label.
data::Status sampleDatasetEpisode(const std::string &path,
                                  const Shape &supportX,
                                  const data::EpisodeSpec &shape,
                                  uint64_t seed, EpisodeData &out,
                                  std::string &source,
                                  std::vector<std::string> *classNames);

/// One seeded episode of `dataset` (an open split).
data::Status sampleEpisodeData(data::Dataset &dataset,
                               const data::EpisodeSpec &shape, uint64_t seed,
                               EpisodeData &out,
                               std::vector<std::string> *classNames = nullptr);

/// Whether an episode function's argument is drawn from initialisers (a
/// meta-parameter, an initial cell state, theta0) rather than episode data.
inline bool isMetaArgument(const std::string &role, const std::string &name) {
  return role == "meta" || role == "meta_coord" || role == "state" ||
         name == "theta0";
}

/// The .npz key of such an argument: "state/<name>" for an initial cell
/// state ("state.<name>"), else "meta/<name>".
inline std::string metaNpzKey(const std::string &role,
                              const std::string &name) {
  if (role == "state" && name.rfind("state.", 0) == 0)
    return "state/" + name.substr(6);
  return "meta/" + name;
}

/// The key of an episode function's result: "grad/<argument>" for a
/// derivative, else its name ("meta_loss", "theta", ...).
inline std::string resultKey(const std::string &role, const std::string &name) {
  return role == "grad" ? "grad/" + name : name;
}

} // namespace lopt

#endif // LOPT_RUNTIME_EPISODEDATA_H
