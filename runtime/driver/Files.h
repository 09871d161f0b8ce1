//===- Files.h - run folders, atomic text files, escaping -------*- C++ -*-===//
#ifndef LOPT_RUNTIME_DRIVER_FILES_H
#define LOPT_RUNTIME_DRIVER_FILES_H

#include "runtime/Dataset.h"

#include <string>

namespace lopt::driver {

bool fileExists(const std::string &path);
bool isRegularFile(const std::string &path);
bool isDirectory(const std::string &path);
/// mkdir -p; the error names the path.
data::Status makeDirectories(const std::string &path);
/// Writes `path + ".tmp-<pid>"`, then renames it to `path`.
data::Status writeFileAtomic(const std::string &path, const std::string &text);
/// The whole file; false when it cannot be read.
bool readFile(const std::string &path, std::string &text);
/// Removes what an interrupted atomic write left in `dir` ("*.tmp-<pid>"
/// and libzip's temporaries of them).
void removeTemporaries(const std::string &dir);
/// `s` as a JSON string literal (quotes, escapes).
std::string jsonString(const std::string &s);
/// `s` with &, <, > and quotes escaped for XML text.
std::string xmlText(const std::string &s);

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_FILES_H
