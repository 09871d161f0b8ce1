//===- Npz.cpp - NumPy .npz archives (read and write) ---------------------===//
//
// The zip container is handled by libzip (stored and deflated members); the
// .npy format (https://numpy.org/neps/nep-0001-npy-format.html) by hand: a
// magic string, a version, a little-endian header length and a Python dict
// literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npz.h"

#include <zip.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Npz.cpp copies little-endian .npy data directly: little-endian hosts only"
#endif

namespace lopt::data {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;            // numpy's ARRAY_ALIGN
constexpr size_t kGrowthAxisDigits = 21; // numpy's GROWTH_AXIS_MAX_DIGITS

std::string zipErrorString(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string msg = zip_error_strerror(&error);
  zip_error_fini(&error);
  return msg;
}

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

//===----------------------------------------------------------------------===//
// Writing .npy
//===----------------------------------------------------------------------===//

/// Python's repr of a shape tuple: "()", "(5,)", "(3, 4)".
std::string shapeRepr(const Shape &shape) {
  if (shape.empty())
    return "()";
  if (shape.size() == 1)
    return "(" + std::to_string(shape[0]) + ",)";
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

/// The complete .npy file for C-order data, with the header numpy's
/// format.write_array writes (version 1.0 unless the header is too long).
std::vector<uint8_t> encodeNpy(const char *descr, const Shape &shape,
                               const void *data, size_t bytes) {
  // Keys sorted as numpy sorts them; then numpy's spare room for growing the
  // first axis in place; then spaces and '\n' up to a multiple of 64.
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " +
                       shapeRepr(shape) + ", }";
  if (!shape.empty()) {
    size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthAxisDigits)
      header.append(kGrowthAxisDigits - digits, ' ');
  }
  size_t hlen = header.size() + 1; // + '\n'
  bool v1 = true;
  size_t lenBytes = 2;
  size_t padlen = kAlign - (kMagicLen + 2 + lenBytes + hlen) % kAlign;
  if (hlen + padlen > 0xffff) {
    v1 = false;
    lenBytes = 4;
    padlen = kAlign - (kMagicLen + 2 + lenBytes + hlen) % kAlign;
  }
  header.append(padlen, ' ');
  header += '\n';

  std::vector<uint8_t> out;
  out.reserve(kMagicLen + 2 + lenBytes + header.size() + bytes);
  out.insert(out.end(), kMagic, kMagic + kMagicLen);
  out.push_back(v1 ? 1 : 2);
  out.push_back(0);
  uint32_t len = uint32_t(header.size());
  for (size_t i = 0; i < lenBytes; ++i)
    out.push_back(uint8_t(len >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  const auto *p = static_cast<const uint8_t *>(data);
  if (bytes)
    out.insert(out.end(), p, p + bytes);
  return out;
}

template <typename T>
std::vector<uint8_t> encodeTensor(const char *descr, const Tensor<T> &t) {
  assert(int64_t(t.data.size()) == numElements(t.shape) && "size mismatch");
  return encodeNpy(descr, t.shape, t.data.data(), t.data.size() * sizeof(T));
}

//===----------------------------------------------------------------------===//
// Reading .npy
//===----------------------------------------------------------------------===//

/// A value of the .npy header dict: the subset of Python literals numpy
/// writes there.
struct PyValue {
  enum Kind { Str, Bool, Tuple, Other } kind = Other;
  std::string str;
  bool boolean = false;
  std::vector<int64_t> ints;
};

/// Parses the header dict. Errors are plain descriptions; the caller adds
/// the file and member.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : S(text) {}

  /// Fills descr, fortranOrder and shape; all three keys are required and
  /// no other key is allowed (as numpy requires).
  bool parse(std::string &descr, bool &fortranOrder, Shape &shape,
             std::string &err) {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    skipSpace();
    if (!eat('{'))
      return fail("the header is not a dict", err);
    while (true) {
      skipSpace();
      if (eat('}'))
        break;
      std::string key;
      if (!parseString(key))
        return fail("expected a quoted key", err);
      skipSpace();
      if (!eat(':'))
        return fail("expected ':' after '" + key + "'", err);
      skipSpace();
      PyValue v;
      if (!parseValue(v))
        return fail("cannot parse the value of '" + key + "'", err);
      if (key == "descr") {
        if (v.kind != PyValue::Str)
          return fail("'descr' is not a simple dtype string (structured "
                      "dtypes are not supported)",
                      err);
        descr = v.str;
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (v.kind != PyValue::Bool)
          return fail("'fortran_order' is not True or False", err);
        fortranOrder = v.boolean;
        haveOrder = true;
      } else if (key == "shape") {
        if (v.kind != PyValue::Tuple)
          return fail("'shape' is not a tuple of integers", err);
        shape = v.ints;
        haveShape = true;
      } else {
        return fail("unexpected key '" + key + "'", err);
      }
      skipSpace();
      if (eat(','))
        continue;
      skipSpace();
      if (eat('}'))
        break;
      return fail("expected ',' or '}' after the value of '" + key + "'", err);
    }
    skipSpace();
    if (Pos != S.size())
      return fail("unexpected text after the dict", err);
    if (!haveDescr || !haveOrder || !haveShape)
      return fail(std::string("missing key '") +
                      (!haveDescr ? "descr" : !haveOrder ? "fortran_order"
                                                         : "shape") +
                      "'",
                  err);
    return true;
  }

private:
  bool fail(const std::string &msg, std::string &err) {
    err = msg;
    return false;
  }
  void skipSpace() {
    while (Pos < S.size() &&
           (S[Pos] == ' ' || S[Pos] == '\t' || S[Pos] == '\n' ||
            S[Pos] == '\r'))
      ++Pos;
  }
  bool eat(char c) {
    if (Pos < S.size() && S[Pos] == c) {
      ++Pos;
      return true;
    }
    return false;
  }
  bool eatWord(const char *w) {
    size_t n = std::strlen(w);
    if (S.compare(Pos, n, w) != 0)
      return false;
    Pos += n;
    return true;
  }
  bool parseString(std::string &out) {
    if (Pos >= S.size() || (S[Pos] != '\'' && S[Pos] != '"'))
      return false;
    char quote = S[Pos++];
    out.clear();
    while (Pos < S.size() && S[Pos] != quote) {
      if (S[Pos] == '\\')
        return false; // numpy never escapes in its dtype strings
      out += S[Pos++];
    }
    return eat(quote);
  }
  bool parseInt(int64_t &out) {
    size_t start = Pos;
    int64_t v = 0;
    while (Pos < S.size() && S[Pos] >= '0' && S[Pos] <= '9') {
      int digit = S[Pos++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - digit) / 10)
        return false;
      v = v * 10 + digit;
    }
    if (Pos == start)
      return false;
    eat('L'); // Python 2 longs, as old numpy wrote them
    out = v;
    return true;
  }
  bool parseValue(PyValue &v) {
    if (Pos < S.size() && (S[Pos] == '\'' || S[Pos] == '"')) {
      v.kind = PyValue::Str;
      return parseString(v.str);
    }
    if (eatWord("True")) {
      v.kind = PyValue::Bool;
      v.boolean = true;
      return true;
    }
    if (eatWord("False")) {
      v.kind = PyValue::Bool;
      v.boolean = false;
      return true;
    }
    if (eat('(')) {
      v.kind = PyValue::Tuple;
      skipSpace();
      if (eat(')'))
        return true;
      while (true) {
        skipSpace();
        int64_t d;
        if (!parseInt(d))
          return false; // also rejects negative dimensions
        v.ints.push_back(d);
        skipSpace();
        if (eat(')'))
          return true;
        if (!eat(','))
          return false;
        skipSpace();
        if (eat(')'))
          return true;
      }
    }
    if (Pos < S.size() && S[Pos] == '[') {
      // A list (structured dtype): skip it, balanced, so that the caller can
      // give its specific message.
      int depth = 0;
      char quote = 0;
      for (; Pos < S.size(); ++Pos) {
        char c = S[Pos];
        if (quote) {
          if (c == quote)
            quote = 0;
        } else if (c == '\'' || c == '"') {
          quote = c;
        } else if (c == '[' || c == '(') {
          ++depth;
        } else if (c == ']' || c == ')') {
          if (--depth == 0) {
            ++Pos;
            v.kind = PyValue::Other;
            return true;
          }
        }
      }
      return false;
    }
    return false;
  }

  const std::string &S;
  size_t Pos = 0;
};

/// What an unsupported descr is, for the message.
std::string describeDescr(const std::string &descr) {
  if (descr.size() < 2)
    return "";
  char order = descr[0];
  std::string kind = descr.substr(1);
  std::string what;
  if (kind == "b1")
    what = "bool";
  else if (kind == "u1")
    what = "uint8";
  else if (kind == "i1")
    what = "int8";
  else if (kind == "f2")
    what = "float16";
  else if (kind[0] == 'u' || kind[0] == 'i')
    what = (kind[0] == 'u' ? "uint" : "int") +
           std::to_string(8 * std::atoi(kind.c_str() + 1));
  else if (kind[0] == 'f')
    what = "float" + std::to_string(8 * std::atoi(kind.c_str() + 1));
  else if (kind[0] == 'c')
    what = "complex";
  else if (kind[0] == 'U' || kind[0] == 'S')
    what = "string";
  else if (kind[0] == 'O')
    what = "Python objects";
  if (order == '>')
    what += what.empty() ? "big-endian" : ", big-endian";
  return what.empty() ? "" : " (" + what + ")";
}

/// Decodes one .npy file held in `bytes` into `out` (all but the name).
/// Errors are descriptions without the file/member prefix.
bool decodeNpy(const std::vector<uint8_t> &bytes, NpzArray &out,
               std::string &err) {
  if (bytes.size() < kMagicLen + 2 ||
      std::memcmp(bytes.data(), kMagic, kMagicLen) != 0) {
    err = "not an .npy array (bad magic string)";
    return false;
  }
  int major = bytes[6], minor = bytes[7];
  size_t lenBytes;
  if (major == 1 && minor == 0)
    lenBytes = 2;
  else if ((major == 2 || major == 3) && minor == 0)
    lenBytes = 4;
  else {
    err = "unsupported .npy format version " + std::to_string(major) + "." +
          std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)";
    return false;
  }
  size_t pre = kMagicLen + 2 + lenBytes;
  if (bytes.size() < pre) {
    err = "truncated .npy header";
    return false;
  }
  uint64_t hlen = 0;
  for (size_t i = 0; i < lenBytes; ++i)
    hlen |= uint64_t(bytes[kMagicLen + 2 + i]) << (8 * i);
  if (hlen > bytes.size() - pre) {
    err = "truncated .npy header (header length " + std::to_string(hlen) +
          ", " + std::to_string(bytes.size() - pre) + " bytes left)";
    return false;
  }
  std::string header(reinterpret_cast<const char *>(bytes.data()) + pre,
                     size_t(hlen));

  std::string descr, parseErr;
  bool fortranOrder = false;
  Shape shape;
  if (!HeaderParser(header).parse(descr, fortranOrder, shape, parseErr)) {
    err = "bad .npy header: " + parseErr;
    return false;
  }

  size_t itemSize;
  bool isI64 = false;
  if (descr == "<f4") {
    out.type = NpzArray::Type::F32;
    itemSize = 4;
  } else if (descr == "<f8") {
    out.type = NpzArray::Type::F64;
    itemSize = 8;
  } else if (descr == "<i4") {
    out.type = NpzArray::Type::I32;
    itemSize = 4;
  } else if (descr == "<i8") {
    out.type = NpzArray::Type::I32;
    itemSize = 8;
    isI64 = true;
  } else {
    err = "unsupported dtype '" + descr + "'" + describeDescr(descr) +
          "; supported: '<f4' (float32), '<f8' (float64), '<i4' (int32), "
          "'<i8' (int64, converted to int32)";
    return false;
  }
  if (fortranOrder) {
    err = "Fortran-order arrays are not supported (save with "
          "np.ascontiguousarray)";
    return false;
  }

  uint64_t count = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(count, uint64_t(d), &count)) {
      err = "shape " + shapeToString(shape) + " is too large";
      return false;
    }
  uint64_t dataBytes;
  if (__builtin_mul_overflow(count, uint64_t(itemSize), &dataBytes) ||
      count > uint64_t(std::numeric_limits<int64_t>::max())) {
    err = "shape " + shapeToString(shape) + " is too large";
    return false;
  }
  uint64_t have = bytes.size() - pre - hlen;
  if (have != dataBytes) {
    err = std::string(have < dataBytes ? "truncated data" : "trailing data") +
          ": shape " + shapeToString(shape) + " of '" + descr + "' needs " +
          std::to_string(dataBytes) + " bytes, the member has " +
          std::to_string(have);
    return false;
  }

  out.shape = shape;
  out.f32.clear();
  out.f64.clear();
  out.i32.clear();
  const uint8_t *p = bytes.data() + pre + hlen;
  size_t n = size_t(count);
  switch (out.type) {
  case NpzArray::Type::F32:
    out.f32.resize(n);
    if (n)
      std::memcpy(out.f32.data(), p, n * 4);
    break;
  case NpzArray::Type::F64:
    out.f64.resize(n);
    if (n)
      std::memcpy(out.f64.data(), p, n * 8);
    break;
  case NpzArray::Type::I32:
    out.i32.resize(n);
    if (!isI64) {
      if (n)
        std::memcpy(out.i32.data(), p, n * 4);
      break;
    }
    for (size_t i = 0; i < n; ++i) {
      int64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      if (v < INT32_MIN || v > INT32_MAX) {
        err = "int64 value " + std::to_string(v) + " at flat index " +
              std::to_string(i) + " does not fit in int32";
        return false;
      }
      out.i32[i] = int32_t(v);
    }
    break;
  }
  return true;
}

/// Reads the whole member `index` into `bytes`, checking its CRC (libzip
/// does when the end is reached). Grows with the data actually decompressed,
/// so a corrupt size field cannot make it allocate absurd amounts up front.
bool readMember(zip_t *zip, zip_uint64_t index, std::vector<uint8_t> &bytes,
                std::string &err) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(zip, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
    err = std::string("cannot stat (") + zip_strerror(zip) + ")";
    return false;
  }
  zip_file_t *f = zip_fopen_index(zip, index, 0);
  if (!f) {
    err = std::string("cannot open (") + zip_strerror(zip) + ")";
    return false;
  }
  bytes.clear();
  bytes.reserve(size_t(std::min<zip_uint64_t>(st.size, 64u << 20)));
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    zip_int64_t got = zip_fread(f, chunk.data(), chunk.size());
    if (got < 0) {
      err = std::string("cannot read (") + zip_file_strerror(f) + ")";
      zip_fclose(f);
      return false;
    }
    if (got == 0)
      break;
    bytes.insert(bytes.end(), chunk.data(), chunk.data() + got);
    if (bytes.size() > st.size)
      break;
  }
  zip_fclose(f);
  if (bytes.size() != st.size) {
    err = "corrupt member (" + std::to_string(bytes.size()) +
          " bytes read, the archive says " + std::to_string(st.size) + ")";
    return false;
  }
  return true;
}

const NpzArray *findArray(const std::vector<NpzArray> &arrays,
                          const std::string &name) {
  for (const NpzArray &a : arrays)
    if (a.name == name)
      return &a;
  return nullptr;
}

Status lookup(const std::vector<NpzArray> &arrays, const std::string &file,
              const std::string &name, const Shape &expectShape,
              const NpzArray *&found) {
  found = findArray(arrays, name);
  if (!found) {
    std::string have;
    size_t listed = 0;
    for (const NpzArray &a : arrays) {
      if (listed++ == 8) {
        have += ", ...";
        break;
      }
      have += (have.empty() ? "'" : ", '") + a.name + "'";
    }
    return Status::error(file + ": no array '" + name + "' (the archive has " +
                         (arrays.empty() ? std::string("no arrays")
                          : arrays.size() == 1
                              ? "1 array: " + have
                              : std::to_string(arrays.size()) +
                                    " arrays: " + have) +
                         ")");
  }
  if (!expectShape.empty() && found->shape != expectShape)
    return Status::error(file + ": array '" + name + "' has shape " +
                         shapeToString(found->shape) + ", expected " +
                         shapeToString(expectShape));
  return Status::success();
}

} // namespace

const char *npzTypeName(NpzArray::Type type) {
  switch (type) {
  case NpzArray::Type::F32:
    return "float32";
  case NpzArray::Type::F64:
    return "float64";
  case NpzArray::Type::I32:
    return "int32";
  }
  return "?";
}

//===----------------------------------------------------------------------===//
// NpzWriter
//===----------------------------------------------------------------------===//

void NpzWriter::addMember(const std::string &name, std::vector<uint8_t> npy) {
  for (auto &m : Members)
    if (m.first == name) {
      m.second = std::move(npy);
      return;
    }
  Members.emplace_back(name, std::move(npy));
}

void NpzWriter::add(const std::string &name, const Tensor<float> &t) {
  addMember(name, encodeTensor("<f4", t));
}
void NpzWriter::add(const std::string &name, const Tensor<double> &t) {
  addMember(name, encodeTensor("<f8", t));
}
void NpzWriter::add(const std::string &name, const Tensor<int32_t> &t) {
  addMember(name, encodeTensor("<i4", t));
}
void NpzWriter::addScalar(const std::string &name, double v) {
  addMember(name, encodeNpy("<f8", Shape{}, &v, sizeof v));
}

Status NpzWriter::write(const std::string &path) const {
  std::string tmp = path + ".tmp-" + std::to_string(long(::getpid()));
  auto fail = [&](const std::string &why) {
    return Status::error("cannot write '" + path + "': " + why);
  };

  if (Members.empty()) {
    // libzip writes no file at all for an empty archive; numpy.savez() with
    // no arrays writes the 22-byte end-of-central-directory record alone.
    static const uint8_t eocd[22] = {0x50, 0x4b, 0x05, 0x06};
    std::FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f)
      return fail(tmp + ": " + std::strerror(errno));
    bool ok = std::fwrite(eocd, 1, sizeof eocd, f) == sizeof eocd;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
      int e = errno;
      ::unlink(tmp.c_str());
      return fail(tmp + ": " + std::strerror(e));
    }
  } else {
    int code = 0;
    zip_t *zip = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!zip)
      return fail(tmp + ": " + zipErrorString(code));
    for (const auto &[name, npy] : Members) {
      std::string member = name + ".npy";
      // The buffers live in *this until zip_close: libzip must not free them.
      zip_source_t *src = zip_source_buffer(
          zip, npy.empty() ? nullptr : npy.data(), npy.size(), 0);
      zip_int64_t idx = src ? zip_file_add(zip, member.c_str(), src,
                                           ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE)
                            : -1;
      if (idx < 0) {
        std::string why = zip_strerror(zip);
        if (src)
          zip_source_free(src);
        zip_discard(zip);
        return fail("cannot add member '" + member + "' (" + why + ")");
      }
      if (zip_set_file_compression(zip, zip_uint64_t(idx), ZIP_CM_STORE, 0) !=
          0) {
        std::string why = zip_strerror(zip);
        zip_discard(zip);
        return fail("member '" + member + "' (" + why + ")");
      }
    }
    // libzip writes to its own temporary next to `tmp` and renames it to
    // `tmp` only on success, removing it on failure.
    if (zip_close(zip) != 0) {
      std::string why = zip_strerror(zip);
      zip_discard(zip);
      return fail(tmp + ": " + why);
    }
  }

  // On disk before it takes the name: a crash leaves the old file or the
  // new one, never a part.
  if (int fd = ::open(tmp.c_str(), O_RDONLY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return fail(std::string("rename from '") + tmp + "' failed: " +
                std::strerror(e));
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

Status readNpz(const std::string &path, std::vector<NpzArray> &out) {
  out.clear();
  int code = 0;
  zip_t *zip = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!zip) {
    std::string why = zipErrorString(code);
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
      why = "not a valid zip/.npz archive (" + why +
            "; truncated or not written by numpy.savez?)";
    return Status::error(path + ": cannot open .npz: " + why);
  }
  zip_int64_t n = zip_get_num_entries(zip, 0);
  Status status = Status::success();
  std::vector<uint8_t> bytes;
  for (zip_int64_t e = 0; e < n && status.ok(); ++e) {
    const char *raw = zip_get_name(zip, zip_uint64_t(e), 0);
    if (!raw) {
      status = Status::error(path + ": cannot read the name of member " +
                             std::to_string(e) + " (" + zip_strerror(zip) +
                             ")");
      break;
    }
    std::string member = raw;
    if (!member.empty() && member.back() == '/')
      continue; // a directory entry: no data
    if (!endsWith(member, ".npy")) {
      status = Status::error(path + ": member '" + member +
                             "' is not an .npy array (every member of an "
                             ".npz must be named <array>.npy)");
      break;
    }
    NpzArray array;
    array.name = member.substr(0, member.size() - 4);
    if (findArray(out, array.name)) {
      status = Status::error(path + ": array '" + array.name +
                             "' appears twice");
      break;
    }
    std::string err;
    if (!readMember(zip, zip_uint64_t(e), bytes, err) ||
        !decodeNpy(bytes, array, err)) {
      status = Status::error(path + ": array '" + array.name + "': " + err);
      break;
    }
    out.push_back(std::move(array));
  }
  zip_discard(zip); // read-only: nothing to write back
  if (!status.ok())
    out.clear();
  return status;
}

Status getFloat(const std::vector<NpzArray> &arrays, const std::string &file,
                const std::string &name, const Shape &expectShape,
                Tensor<float> &out) {
  const NpzArray *a = nullptr;
  if (Status s = lookup(arrays, file, name, expectShape, a); !s)
    return s;
  switch (a->type) {
  case NpzArray::Type::F32:
    out = Tensor<float>(a->shape, a->f32);
    return Status::success();
  case NpzArray::Type::F64:
    out = Tensor<float>(a->shape,
                        std::vector<float>(a->f64.begin(), a->f64.end()));
    return Status::success();
  case NpzArray::Type::I32:
    break;
  }
  return Status::error(file + ": array '" + name + "' is " +
                       npzTypeName(a->type) +
                       ", expected float32 or float64");
}

Status getInt(const std::vector<NpzArray> &arrays, const std::string &file,
              const std::string &name, const Shape &expectShape,
              Tensor<int32_t> &out) {
  const NpzArray *a = nullptr;
  if (Status s = lookup(arrays, file, name, expectShape, a); !s)
    return s;
  if (a->type != NpzArray::Type::I32)
    return Status::error(file + ": array '" + name + "' is " +
                         npzTypeName(a->type) + ", expected int32 (or int64)");
  out = Tensor<int32_t>(a->shape, a->i32);
  return Status::success();
}

} // namespace lopt::data
