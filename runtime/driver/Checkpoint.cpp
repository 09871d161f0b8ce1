//===- Checkpoint.cpp - the state of a meta-training run ------------------===//
#include "runtime/driver/Checkpoint.h"

#include "runtime/EpisodeData.h"
#include "runtime/Npz.h"
#include "runtime/driver/Files.h"
#include "runtime/driver/Module.h"

#include <cmath>
#include <cstring>

namespace lopt::driver {

namespace {

Tensor<int32_t> encode(const std::string &s) {
  Tensor<int32_t> t({int64_t(s.size())});
  for (size_t i = 0; i < s.size(); ++i)
    t[int64_t(i)] = uint8_t(s[i]);
  return t;
}

std::string decode(const Tensor<int32_t> &t) {
  std::string s;
  for (int32_t c : t.data)
    s += char(c);
  return s;
}

} // namespace

void addMetaArrays(data::NpzWriter &npz, const NamedTensors &meta) {
  const lopt_function &fn = evalFunction();
  for (int a = 0; a < fn.num_args; ++a)
    if (isMetaArgument(fn.args[a].role, fn.args[a].name))
      npz.add(metaNpzKey(fn.args[a].role, fn.args[a].name),
              meta.at(fn.args[a].name));
}

data::Status readMetaArrays(const std::vector<data::NpzArray> &arrays,
                            const std::string &file, NamedTensors &meta) {
  data::Status s = data::Status::success();
  const lopt_function &fn = evalFunction();
  for (int a = 0; s && a < fn.num_args; ++a)
    if (isMetaArgument(fn.args[a].role, fn.args[a].name)) {
      const lopt_buffer &b = fn.buffers[fn.args[a].slot];
      s = data::getFloat(arrays, file,
                         metaNpzKey(fn.args[a].role, fn.args[a].name),
                         shapeOf(b.shape, b.rank), meta[fn.args[a].name]);
    }
  return s;
}

data::Status saveCheckpoint(const std::string &path, const TrainState &st) {
  data::NpzWriter npz;
  addMetaArrays(npz, st.meta);
  for (auto &[name, m] : st.adamM)
    npz.add("adam/m/" + name, m);
  for (auto &[name, v] : st.adamV)
    npz.add("adam/v/" + name, v);
  npz.addScalar("train/episode", double(st.episode));
  npz.addScalar("train/adam_step", double(st.adamStep));
  // Two exact halves: a float64 holds 53 bits.
  npz.addScalar("train/seed_hi", double(st.seed >> 32));
  npz.addScalar("train/seed_lo", double(st.seed & 0xffffffffull));
  npz.addScalar("train/best_val_accuracy", st.bestValAccuracy);
  npz.addScalar("train/best_episode", double(st.bestEpisode));
  npz.addScalar("train/elapsed_s", st.elapsedSeconds);
  npz.addScalar("train/val_every", double(st.valEvery));
  npz.addScalar("train/val_episodes", double(st.valEpisodes));
  npz.add("program/fingerprint", encode(M.fingerprint));
  npz.add("program/episode", encode(M.episode));
  return npz.write(path);
}

data::Status loadCheckpoint(const std::string &path, TrainState &st) {
  std::vector<data::NpzArray> arrays;
  data::Status s = data::readNpz(path, arrays);
  if (!s)
    return s;
  Tensor<int32_t> fingerprint, episode;
  if (!data::getInt(arrays, path, "program/fingerprint", {}, fingerprint) ||
      !data::getInt(arrays, path, "program/episode", {}, episode))
    return data::Status::error(
        path + ": not a checkpoint of a lopt binary (no program/fingerprint; "
               "checkpoints are written by `train`)");
  if (decode(fingerprint) != M.fingerprint || decode(episode) != M.episode)
    return data::Status::error(
        path + ": the checkpoint was written by a binary compiled from another "
               "description (episode '" + decode(episode) + "', fingerprint " +
        decode(fingerprint) + "); this binary is episode '" + M.episode +
        "' from " + M.source + " (fingerprint " + M.fingerprint + ")");
  if (s = readMetaArrays(arrays, path, st.meta); !s)
    return s;
  // Counters: float64 scalars holding whole numbers >= `min`.
  auto scalar = [&](const char *key, double min, bool required,
                    double &out) {
    for (const data::NpzArray &a : arrays)
      if (a.name == key) {
        if (a.type != data::NpzArray::Type::F64 || a.f64.size() != 1 ||
            !std::isfinite(a.f64[0]) || a.f64[0] < min)
          s = data::Status::error(path + ": '" + key +
                                  "' is not a float64 scalar >= " +
                                  std::to_string(int(min)));
        out = a.f64[0];
        return bool(s);
      }
    if (required)
      s = data::Status::error(path + ": no float64 scalar '" + key + "'");
    return !required;
  };
  double episodeDone, step, hi, lo, bestEpisode, valEvery = 0, valEpisodes = 0;
  if (!scalar("train/episode", 0, true, episodeDone) ||
      !scalar("train/adam_step", 0, true, step) ||
      !scalar("train/seed_hi", 0, true, hi) ||
      !scalar("train/seed_lo", 0, true, lo) ||
      !scalar("train/best_val_accuracy", -1, true, st.bestValAccuracy) ||
      !scalar("train/best_episode", -1, true, bestEpisode) ||
      !scalar("train/elapsed_s", 0, true, st.elapsedSeconds) ||
      !scalar("train/val_every", 0, false, valEvery) ||
      !scalar("train/val_episodes", 0, false, valEpisodes))
    return s;
  st.episode = int64_t(episodeDone);
  st.adamStep = int64_t(step);
  st.seed = (uint64_t(hi) << 32) | uint64_t(lo);
  st.bestEpisode = int64_t(bestEpisode);
  st.valEvery = int64_t(valEvery);
  st.valEpisodes = int64_t(valEpisodes);
  // Adam's moments: one pair for every trained parameter once it has
  // stepped (zeros would change the bias correction).
  st.adamM.clear();
  st.adamV.clear();
  const lopt_function *train = trainFunction();
  for (int r = 0; train && r < train->num_results && st.adamStep > 0; ++r) {
    if (std::strcmp(train->results[r].role, "grad") != 0)
      continue;
    std::string name = train->results[r].name;
    const Shape &shape = st.meta.at(name).shape;
    if (!(s = data::getFloat(arrays, path, "adam/m/" + name, shape,
                             st.adamM[name])) ||
        !(s = data::getFloat(arrays, path, "adam/v/" + name, shape,
                             st.adamV[name])))
      return s;
  }
  return s;
}

std::string checkpointFile(const std::string &path) {
  if (isDirectory(path))
    return path + "/best.npz";
  if (!isRegularFile(path) && isRegularFile(path + ".npz"))
    return path + ".npz";
  return path;
}

} // namespace lopt::driver
