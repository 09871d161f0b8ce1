//===- Flags.h - the options of one command of a binary ---------*- C++ -*-===//
//
// `--flag VALUE` options and `--switch` options without a value. Unknown
// options and malformed values are errors that name the flag.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DRIVER_FLAGS_H
#define LOPT_RUNTIME_DRIVER_FLAGS_H

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lopt::driver {

struct Flags {
  std::map<std::string, std::string> values;
  std::set<std::string> switches;

  /// Parses argv[first..]: `known` take a value, `known_switches` do not.
  bool parse(int argc, char **argv, int first,
             const std::vector<std::string> &known, std::string &error,
             const std::vector<std::string> &knownSwitches = {}) {
    auto has = [](const std::vector<std::string> &v, const std::string &s) {
      return std::find(v.begin(), v.end(), s) != v.end();
    };
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (has(knownSwitches, a)) {
        switches.insert(a);
        continue;
      }
      if (!has(known, a)) {
        error = "unknown option '" + a + "' (expected one of:";
        for (const std::string &k : known)
          error += " " + k;
        for (const std::string &k : knownSwitches)
          error += " " + k;
        error += ")";
        return false;
      }
      if (i + 1 >= argc) {
        error = "option '" + a + "' needs a value";
        return false;
      }
      values[a] = argv[++i];
    }
    return true;
  }
  bool has(const std::string &k) const {
    return values.count(k) || switches.count(k);
  }
  std::string str(const std::string &k, const std::string &def = "") const {
    auto it = values.find(k);
    return it == values.end() ? def : it->second;
  }
  /// The value of a flag that must be given.
  bool required(const std::string &k, std::string &out,
                std::string &error) const {
    out = str(k);
    if (out.empty())
      error = "option '" + k + "' is required";
    return !out.empty();
  }
  /// An integer >= `min`, or `def` when absent.
  bool integer(const std::string &k, int64_t def, int64_t min, int64_t &out,
               std::string &error) const {
    auto it = values.find(k);
    if (it == values.end()) {
      out = def;
      return true;
    }
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end || v < min || errno == ERANGE) {
      error = "option '" + k + "' expects an integer >= " +
              std::to_string(min) + ", got '" + it->second + "'";
      return false;
    }
    out = v;
    return true;
  }
};

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_FLAGS_H
