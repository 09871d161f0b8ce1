//===- Checkpoint.cpp - the state of a meta-training run ------------------===//
#include "runtime/driver/Checkpoint.h"

#include "runtime/EpisodeData.h"
#include "runtime/Npz.h"
#include "runtime/driver/Module.h"

#include <sys/stat.h>

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

bool isFile(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool isDir(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace

data::Status saveCheckpoint(const std::string &path, const TrainState &st) {
  data::NpzWriter npz;
  const lopt_function &fn = evalFunction();
  for (int a = 0; a < fn.num_args; ++a)
    if (isMetaArgument(fn.args[a].role, fn.args[a].name))
      npz.add(metaNpzKey(fn.args[a].role, fn.args[a].name),
              st.meta.at(fn.args[a].name));
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
  if (decode(fingerprint) != M.fingerprint)
    return data::Status::error(
        path + ": the checkpoint was written by a binary compiled from another "
               "description (episode '" + decode(episode) + "', fingerprint " +
        decode(fingerprint) + "); this binary is episode '" + M.episode +
        "' from " + M.source + " (fingerprint " + M.fingerprint + ")");
  const lopt_function &fn = evalFunction();
  for (int a = 0; s && a < fn.num_args; ++a)
    if (isMetaArgument(fn.args[a].role, fn.args[a].name)) {
      const lopt_buffer &b = fn.buffers[fn.args[a].slot];
      s = data::getFloat(arrays, path,
                         metaNpzKey(fn.args[a].role, fn.args[a].name),
                         shapeOf(b.shape, b.rank), st.meta[fn.args[a].name]);
    }
  st.adamM.clear();
  st.adamV.clear();
  for (const data::NpzArray &a : arrays) {
    bool m = a.name.rfind("adam/m/", 0) == 0, v = a.name.rfind("adam/v/", 0) == 0;
    if (s && (m || v)) {
      std::string name = a.name.substr(7);
      auto p = st.meta.find(name);
      if (p == st.meta.end())
        return data::Status::error(path + ": array '" + a.name +
                                   "' belongs to no meta-parameter");
      s = data::getFloat(arrays, path, a.name, p->second.shape,
                         (m ? st.adamM : st.adamV)[name]);
    }
  }
  auto scalar = [&](const char *key, double &out) {
    for (const data::NpzArray &a : arrays)
      if (a.name == key && a.type == data::NpzArray::Type::F64 &&
          a.f64.size() == 1) {
        out = a.f64[0];
        return true;
      }
    s = data::Status::error(path + ": no float64 scalar '" + key + "'");
    return false;
  };
  double episodeDone, step, hi, lo, bestEpisode;
  if (s && scalar("train/episode", episodeDone) &&
      scalar("train/adam_step", step) && scalar("train/seed_hi", hi) &&
      scalar("train/seed_lo", lo) &&
      scalar("train/best_val_accuracy", st.bestValAccuracy) &&
      scalar("train/best_episode", bestEpisode) &&
      scalar("train/elapsed_s", st.elapsedSeconds)) {
    st.episode = int64_t(episodeDone);
    st.adamStep = int64_t(step);
    st.seed = (uint64_t(hi) << 32) | uint64_t(lo);
    st.bestEpisode = int64_t(bestEpisode);
  }
  return s;
}

std::string checkpointFile(const std::string &path) {
  if (isDir(path))
    return path + "/best.npz";
  if (!isFile(path) && isFile(path + ".npz"))
    return path + ".npz";
  return path;
}

} // namespace lopt::driver
