//===- Files.cpp - run folders and atomic text files ----------------------===//
#include "runtime/driver/Files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace lopt::driver {

bool fileExists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

data::Status makeDirectories(const std::string &path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/')
      continue;
    std::string prefix = path.substr(0, i);
    struct stat st;
    if (stat(prefix.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return data::Status::error(prefix + ": exists and is not a folder");
      continue;
    }
    if (mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST)
      return data::Status::error(prefix + ": cannot create the folder: " +
                                 std::strerror(errno));
  }
  return data::Status::success();
}

data::Status writeFileAtomic(const std::string &path, const std::string &text) {
  std::string tmp = path + ".tmp-" + std::to_string(getpid());
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return data::Status::error(path + ": cannot write: " + std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return data::Status::error(path + ": cannot write: " + why);
  }
  return data::Status::success();
}

bool readFile(const std::string &path, std::string &text) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return false;
  text.clear();
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, n);
  std::fclose(f);
  return true;
}

} // namespace lopt::driver
