//===- Files.h - run folders and atomic text files --------------*- C++ -*-===//
#ifndef LOPT_RUNTIME_DRIVER_FILES_H
#define LOPT_RUNTIME_DRIVER_FILES_H

#include "runtime/Dataset.h"

#include <string>

namespace lopt::driver {

bool fileExists(const std::string &path);
/// mkdir -p; the error names the path.
data::Status makeDirectories(const std::string &path);
/// Writes `path + ".tmp-<pid>"`, then renames it to `path`.
data::Status writeFileAtomic(const std::string &path, const std::string &text);
/// The whole file; false when it cannot be read.
bool readFile(const std::string &path, std::string &text);

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_FILES_H
