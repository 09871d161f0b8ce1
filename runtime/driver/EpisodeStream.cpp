//===- EpisodeStream.cpp - episodes sampled ahead -------------------------===//
#include "runtime/driver/EpisodeStream.h"

namespace lopt::driver {

EpisodeStream::EpisodeStream(data::Dataset &dataset, data::EpisodeSpec spec,
                             std::function<uint64_t(int64_t)> seedOf,
                             int64_t first, int64_t end, size_t ahead)
    : dataset(dataset), spec(spec), seedOf(std::move(seedOf)),
      nextIndex(first), end(end), ahead(ahead ? ahead : 1) {
  worker = std::thread([this] { produce(); });
}

EpisodeStream::~EpisodeStream() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  changed.notify_all();
  worker.join();
}

void EpisodeStream::produce() {
  for (;;) {
    int64_t index;
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return stop || ready.size() < ahead; });
      if (stop || failed || nextIndex >= end) {
        done = true;
        changed.notify_all();
        return;
      }
      index = nextIndex++;
    }
    Item item;
    item.status = sampleEpisodeData(dataset, spec, seedOf(index), item.data);
    {
      std::lock_guard<std::mutex> lock(mutex);
      failed = !item.status.ok();
      ready.push_back(std::move(item));
    }
    changed.notify_all();
  }
}

bool EpisodeStream::next(EpisodeData &out, data::Status &status) {
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [&] { return !ready.empty() || done; });
  if (ready.empty()) {
    status = data::Status::error("no episodes left in the stream");
    return false;
  }
  Item item = std::move(ready.front());
  ready.pop_front();
  lock.unlock();
  changed.notify_all();
  status = item.status;
  if (!status)
    return false;
  out = std::move(item.data);
  return true;
}

} // namespace lopt::driver
