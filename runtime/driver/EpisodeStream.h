//===- EpisodeStream.h - episodes sampled ahead, off the kernels' path -*- C++ -*-===//
//
// Samples episodes [first, end) of one split in a background thread, a few
// ahead of the consumer, so that decoding and resizing images overlaps the
// kernels. Episode i is sampleEpisodeData(dataset, spec, seedOf(i)): the
// sequence depends only on the seeds, never on timing, so a run resumed at
// episode k sees the episodes an uninterrupted run sees.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_EPISODESTREAM_H
#define LOPT_RUNTIME_DRIVER_EPISODESTREAM_H

#include "runtime/EpisodeData.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace lopt::driver {

class EpisodeStream {
public:
  EpisodeStream(data::Dataset &dataset, data::EpisodeSpec spec,
                std::function<uint64_t(int64_t)> seedOf, int64_t first,
                int64_t end, size_t ahead = 2);
  ~EpisodeStream();
  EpisodeStream(const EpisodeStream &) = delete;
  EpisodeStream &operator=(const EpisodeStream &) = delete;

  /// The next episode; false with `status` set when sampling it failed (the
  /// message names the file) or the stream is exhausted.
  bool next(EpisodeData &out, data::Status &status);

private:
  struct Item {
    EpisodeData data;
    data::Status status = data::Status::success();
  };
  void produce();

  data::Dataset &dataset;
  data::EpisodeSpec spec;
  std::function<uint64_t(int64_t)> seedOf;
  int64_t nextIndex, end;
  size_t ahead;
  std::deque<Item> ready;
  bool stop = false, failed = false, done = false;
  std::mutex mutex;
  std::condition_variable changed;
  std::thread worker;
};

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_EPISODESTREAM_H
