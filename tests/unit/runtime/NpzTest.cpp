//===- NpzTest.cpp - NumPy .npz reading and writing -----------------------===//
//
// Round trips through NpzWriter and readNpz, the exact .npy header layout,
// atomic writes, every malformed-input path, getFloat/getInt, and (when
// python3 with numpy is installed; skipped otherwise) interoperability with
// numpy itself in both directions.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npz.h"

#include <zip.h>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <limits>
#include <sstream>

namespace lopt::data::testing {
// From TestSupport.cpp.
std::string makeTempDir();
void makeDirs(const std::string &path);
void writeFile(const std::string &path, const std::vector<uint8_t> &bytes);
void writeText(const std::string &path, const std::string &text);
bool writeZip(
    const std::string &path,
    const std::vector<std::pair<std::string, std::vector<uint8_t>>> &entries);
} // namespace lopt::data::testing

using namespace lopt;
using namespace lopt::data;
using namespace lopt::data::testing;

namespace {

bool contains(const Status &s, const std::string &needle) {
  return s.message().find(needle) != std::string::npos;
}

#define EXPECT_ERROR_MENTIONS(status, needle)                                  \
  do {                                                                         \
    Status st_ = (status);                                                     \
    EXPECT_FALSE(st_.ok()) << "expected an error mentioning " << (needle);     \
    EXPECT_TRUE(contains(st_, needle))                                         \
        << "message '" << st_.message() << "' lacks '" << (needle) << "'";     \
  } while (0)

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
        names.push_back(e->d_name);
    ::closedir(d);
  }
  return names;
}

/// The raw bytes of one member of a zip archive (empty if absent).
std::vector<uint8_t> zipMember(const std::string &path,
                               const std::string &member,
                               zip_int32_t *method = nullptr) {
  std::vector<uint8_t> out;
  int code = 0;
  zip_t *zip = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!zip)
    return out;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(zip, member.c_str(), 0, &st) == 0) {
    if (method)
      *method = st.comp_method;
    out.resize(st.size);
    zip_file_t *f = zip_fopen(zip, member.c_str(), 0);
    if (f) {
      zip_int64_t got = zip_fread(f, out.data(), out.size());
      if (got != zip_int64_t(out.size()))
        out.clear();
      zip_fclose(f);
    }
  }
  zip_discard(zip);
  return out;
}

/// A hand-made .npy: magic, version, header length and `dict` padded to 64
/// as numpy pads it, then `data`.
std::vector<uint8_t> rawNpy(const std::string &dict,
                            const std::vector<uint8_t> &data, int major = 1) {
  size_t lenBytes = major == 1 ? 2 : 4;
  std::string header = dict;
  size_t total = 8 + lenBytes + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(major),
                              0};
  for (size_t i = 0; i < lenBytes; ++i)
    out.push_back(uint8_t(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty())
    std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// Writes a zip holding one member and returns its path.
std::string zipWith(const std::string &dir, const std::string &file,
                    const std::string &member,
                    const std::vector<uint8_t> &bytes) {
  std::string path = dir + "/" + file;
  EXPECT_TRUE(writeZip(path, {{member, bytes}}));
  return path;
}

template <typename T> Tensor<T> iota(const Shape &shape, T scale, T offset) {
  Tensor<T> t(shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t[i] = T(i) * scale + offset;
  return t;
}

const NpzArray *find(const std::vector<NpzArray> &arrays,
                     const std::string &name) {
  for (const NpzArray &a : arrays)
    if (a.name == name)
      return &a;
  return nullptr;
}

const std::vector<Shape> kShapes = {{},        {5},       {3, 4},
                                    {2, 3, 4}, {2, 1, 3, 2}, {0},
                                    {3, 0, 2}, {1, 1, 1, 1}};

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST(Npz, RoundTripAllTypesAndRanks) {
  std::string dir = makeTempDir();
  NpzWriter w;
  std::vector<std::string> order;
  for (size_t s = 0; s < kShapes.size(); ++s) {
    std::string k = std::to_string(s);
    w.add("f32_" + k, iota<float>(kShapes[s], 0.25f, -1.5f));
    w.add("f64_" + k, iota<double>(kShapes[s], 1.0 / 3.0, 2.0));
    w.add("i32_" + k, iota<int32_t>(kShapes[s], -7, 20));
    order.insert(order.end(), {"f32_" + k, "f64_" + k, "i32_" + k});
  }
  // Special values survive bit for bit.
  w.add("special_f32",
        Tensor<float>({6}, {std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(), -0.0f,
                            std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max()}));
  w.add("special_f64",
        Tensor<double>({3}, {std::numeric_limits<double>::lowest(),
                             std::numeric_limits<double>::denorm_min(),
                             -0.0}));
  w.add("special_i32",
        Tensor<int32_t>({2}, {std::numeric_limits<int32_t>::min(),
                              std::numeric_limits<int32_t>::max()}));
  w.addScalar("lr", 0.001);
  order.insert(order.end(),
               {"special_f32", "special_f64", "special_i32", "lr"});
  EXPECT_EQ(w.size(), order.size());

  std::string path = dir + "/all.npz";
  Status ws = w.write(path);
  ASSERT_TRUE(ws.ok()) << ws.message();

  std::vector<NpzArray> arrays;
  Status rs = readNpz(path, arrays);
  ASSERT_TRUE(rs.ok()) << rs.message();
  ASSERT_EQ(arrays.size(), order.size());
  for (size_t i = 0; i < order.size(); ++i)
    EXPECT_EQ(arrays[i].name, order[i]) << "archive order is kept";

  for (size_t s = 0; s < kShapes.size(); ++s) {
    std::string k = std::to_string(s);
    const NpzArray *f = find(arrays, "f32_" + k);
    const NpzArray *d = find(arrays, "f64_" + k);
    const NpzArray *n = find(arrays, "i32_" + k);
    ASSERT_TRUE(f && d && n);
    EXPECT_EQ(f->type, NpzArray::Type::F32);
    EXPECT_EQ(d->type, NpzArray::Type::F64);
    EXPECT_EQ(n->type, NpzArray::Type::I32);
    EXPECT_EQ(f->shape, kShapes[s]);
    EXPECT_EQ(d->shape, kShapes[s]);
    EXPECT_EQ(n->shape, kShapes[s]);
    EXPECT_EQ(f->f32, iota<float>(kShapes[s], 0.25f, -1.5f).data);
    EXPECT_EQ(d->f64, iota<double>(kShapes[s], 1.0 / 3.0, 2.0).data);
    EXPECT_EQ(n->i32, iota<int32_t>(kShapes[s], -7, 20).data);
    EXPECT_TRUE(f->f64.empty() && f->i32.empty());
    EXPECT_TRUE(d->f32.empty() && d->i32.empty());
    EXPECT_TRUE(n->f32.empty() && n->f64.empty());
  }

  const NpzArray *sf = find(arrays, "special_f32");
  ASSERT_TRUE(sf);
  ASSERT_EQ(sf->f32.size(), 6u);
  EXPECT_TRUE(std::isinf(sf->f32[0]) && sf->f32[0] > 0);
  EXPECT_TRUE(std::isinf(sf->f32[1]) && sf->f32[1] < 0);
  EXPECT_TRUE(std::isnan(sf->f32[2]));
  EXPECT_TRUE(sf->f32[3] == 0.0f && std::signbit(sf->f32[3]));
  EXPECT_EQ(sf->f32[4], std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(sf->f32[5], std::numeric_limits<float>::max());
  const NpzArray *sd = find(arrays, "special_f64");
  ASSERT_TRUE(sd);
  EXPECT_EQ(sd->f64[0], std::numeric_limits<double>::lowest());
  EXPECT_EQ(sd->f64[1], std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(std::signbit(sd->f64[2]));
  const NpzArray *si = find(arrays, "special_i32");
  ASSERT_TRUE(si);
  EXPECT_EQ(si->i32, (std::vector<int32_t>{INT32_MIN, INT32_MAX}));
  const NpzArray *lr = find(arrays, "lr");
  ASSERT_TRUE(lr);
  EXPECT_EQ(lr->type, NpzArray::Type::F64);
  EXPECT_EQ(lr->shape, Shape{});
  EXPECT_EQ(lr->f64, std::vector<double>{0.001});

  // Members are stored, named <array>.npy.
  zip_int32_t method = -1;
  EXPECT_FALSE(zipMember(path, "lr.npy", &method).empty());
  EXPECT_EQ(method, ZIP_CM_STORE);
}

TEST(Npz, NamesWithDotsAndSlashes) {
  std::string dir = makeTempDir();
  const std::vector<std::string> names = {
      "meta/h.weight", "grad/conv2d_0.weight", "a.b.c", "x/y/z_1", "plain",
      "trailing.npy"};
  NpzWriter w;
  for (size_t i = 0; i < names.size(); ++i)
    w.add(names[i], Tensor<float>({2}, {float(i), -float(i)}));
  std::string path = dir + "/names.npz";
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_FALSE(zipMember(path, "meta/h.weight.npy").empty());
  EXPECT_FALSE(zipMember(path, "trailing.npy.npy").empty());

  std::vector<NpzArray> arrays;
  Status s = readNpz(path, arrays);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(arrays.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(arrays[i].name, names[i]);
    EXPECT_EQ(arrays[i].f32, (std::vector<float>{float(i), -float(i)}));
  }
}

TEST(Npz, AddingANameAgainReplacesIt) {
  std::string dir = makeTempDir();
  NpzWriter w;
  w.add("a", Tensor<float>({1}, {1.0f}));
  w.add("b", Tensor<float>({1}, {2.0f}));
  w.add("a", Tensor<int32_t>({2}, {3, 4}));
  EXPECT_EQ(w.size(), 2u);
  std::string path = dir + "/dup.npz";
  ASSERT_TRUE(w.write(path).ok());
  std::vector<NpzArray> arrays;
  ASSERT_TRUE(readNpz(path, arrays).ok());
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays[0].name, "a");
  EXPECT_EQ(arrays[0].type, NpzArray::Type::I32);
  EXPECT_EQ(arrays[0].i32, (std::vector<int32_t>{3, 4}));
  EXPECT_EQ(arrays[1].name, "b");
}

TEST(Npz, EmptyArchive) {
  std::string dir = makeTempDir();
  std::string path = dir + "/empty.npz";
  ASSERT_TRUE(NpzWriter().write(path).ok());
  EXPECT_TRUE(fileExists(path));
  std::vector<NpzArray> arrays(1);
  Status s = readNpz(path, arrays);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(arrays.empty());
  EXPECT_EQ(listDir(dir).size(), 1u) << "no temp file is left";
}

//===----------------------------------------------------------------------===//
// The .npy header, exactly as numpy writes it
//===----------------------------------------------------------------------===//

/// numpy's header: the dict, spare room for growing axis 0 (21 digits), then
/// spaces and '\n' up to a multiple of 64 (a full 64 when already aligned).
std::string numpyHeader(const std::string &descr, const std::string &shape,
                        int64_t dim0 /* -1: rank 0 */) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, "
                  "'shape': " + shape + ", }";
  if (dim0 >= 0)
    h.append(21 - std::to_string(dim0).size(), ' ');
  size_t hlen = h.size() + 1;
  h.append(64 - (10 + hlen) % 64, ' ');
  return h + "\n";
}

TEST(Npz, HeaderLayoutMatchesNumpy) {
  std::string dir = makeTempDir();
  NpzWriter w;
  w.add("m", Tensor<float>({3, 4}));
  w.add("v", Tensor<double>({5}));
  w.add("s", Tensor<int32_t>(Shape{}));
  w.add("big", Tensor<float>({123456, 0}));
  std::string path = dir + "/h.npz";
  ASSERT_TRUE(w.write(path).ok());

  struct Case {
    const char *member, *descr, *shape;
    int64_t dim0;
    size_t dataBytes;
  } cases[] = {{"m.npy", "<f4", "(3, 4)", 3, 48},
               {"v.npy", "<f8", "(5,)", 5, 40},
               {"s.npy", "<i4", "()", -1, 4},
               {"big.npy", "<f4", "(123456, 0)", 123456, 0}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.member);
    std::vector<uint8_t> bytes = zipMember(path, c.member);
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8),
              std::string("\x93NUMPY\x01\x00", 8));
    size_t hlen = bytes[8] | (size_t(bytes[9]) << 8);
    EXPECT_EQ((10 + hlen) % 64, 0u);
    ASSERT_EQ(bytes.size(), 10 + hlen + c.dataBytes);
    std::string header(bytes.begin() + 10, bytes.begin() + 10 + hlen);
    EXPECT_EQ(header, numpyHeader(c.descr, c.shape, c.dim0));
    EXPECT_EQ(header.compare(0, std::strlen("{'descr': '"), "{'descr': '"), 0);
    EXPECT_EQ(header.back(), '\n');
  }
}

//===----------------------------------------------------------------------===//
// Atomic writes
//===----------------------------------------------------------------------===//

TEST(Npz, WriteIntoMissingFolderFailsAndLeavesNothing) {
  std::string dir = makeTempDir();
  std::string path = dir + "/no/such/folder/out.npz";
  NpzWriter w;
  w.add("a", Tensor<float>({2}, {1, 2}));
  Status s = w.write(path);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_FALSE(fileExists(path));
  EXPECT_TRUE(listDir(dir).empty());
  // Also for the empty archive, which is written without libzip.
  EXPECT_ERROR_MENTIONS(NpzWriter().write(path), path);
  EXPECT_FALSE(fileExists(path));
}

TEST(Npz, ExistingFileIsReplacedOnlyOnSuccess) {
  std::string dir = makeTempDir();
  std::string path = dir + "/out.npz";
  NpzWriter first;
  first.add("x", Tensor<float>({1}, {1.0f}));
  ASSERT_TRUE(first.write(path).ok());

  NpzWriter second;
  second.add("y", Tensor<double>({2}, {2.0, 3.0}));
  ASSERT_TRUE(second.write(path).ok());
  std::vector<NpzArray> arrays;
  ASSERT_TRUE(readNpz(path, arrays).ok());
  ASSERT_EQ(arrays.size(), 1u);
  EXPECT_EQ(arrays[0].name, "y");
  EXPECT_EQ(listDir(dir), std::vector<std::string>{"out.npz"});

  // Make the write fail: something (a folder) occupies the temp file's name.
  // The previous archive must survive untouched, and the folder too.
  std::vector<uint8_t> secondBytes = readBytes(path);
  std::string tmp = path + ".tmp-" + std::to_string(long(::getpid()));
  ASSERT_EQ(::mkdir(tmp.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((tmp + "/inside").c_str(), 0755), 0);
  Status s = first.write(path);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_EQ(readBytes(path), secondBytes);
  EXPECT_TRUE(fileExists(tmp + "/inside"));
  ::rmdir((tmp + "/inside").c_str());
  ::rmdir(tmp.c_str());

  // rename() onto a folder fails: the temp file is removed again.
  std::string folder = dir + "/folder.npz";
  ASSERT_EQ(::mkdir(folder.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((folder + "/keep").c_str(), 0755), 0);
  EXPECT_ERROR_MENTIONS(first.write(folder), folder);
  EXPECT_TRUE(fileExists(folder + "/keep"));
  std::vector<std::string> left = listDir(dir);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"folder.npz", "out.npz"}));
}

//===----------------------------------------------------------------------===//
// Malformed input
//===----------------------------------------------------------------------===//

TEST(Npz, MissingFile) {
  std::string dir = makeTempDir();
  std::vector<NpzArray> arrays;
  EXPECT_ERROR_MENTIONS(readNpz(dir + "/absent.npz", arrays),
                        dir + "/absent.npz");
}

TEST(Npz, TruncatedFile) {
  std::string dir = makeTempDir();
  std::string path = dir + "/t.npz";
  NpzWriter w;
  w.add("a", iota<float>({10, 10}, 1.0f, 0.0f));
  w.add("b", iota<float>({10, 10}, 1.0f, 0.0f));
  ASSERT_TRUE(w.write(path).ok());
  std::vector<uint8_t> bytes = readBytes(path);
  for (size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t(10)}) {
    SCOPED_TRACE(keep);
    writeFile(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + keep));
    std::vector<NpzArray> arrays;
    EXPECT_ERROR_MENTIONS(readNpz(path, arrays), path);
    EXPECT_TRUE(arrays.empty());
  }
  writeFile(path, {});
  std::vector<NpzArray> arrays;
  EXPECT_ERROR_MENTIONS(readNpz(path, arrays), path);
}

TEST(Npz, CorruptMemberData) {
  std::string dir = makeTempDir();
  std::string path = dir + "/c.npz";
  NpzWriter w;
  w.add("w", Tensor<int32_t>({4}, {0x11223344, 0x55667788, 1, 2}));
  ASSERT_TRUE(w.write(path).ok());
  std::vector<uint8_t> bytes = readBytes(path);
  const uint8_t pattern[] = {0x44, 0x33, 0x22, 0x11, 0x88, 0x77};
  auto it = std::search(bytes.begin(), bytes.end(), pattern, pattern + 6);
  ASSERT_NE(it, bytes.end());
  *it ^= 0xff; // the stored CRC no longer matches
  writeFile(path, bytes);
  std::vector<NpzArray> arrays;
  Status s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'w'");
  EXPECT_ERROR_MENTIONS(s, "CRC");
  EXPECT_TRUE(arrays.empty());
}

TEST(Npz, NotAZip) {
  std::string dir = makeTempDir();
  std::string path = dir + "/text.npz";
  writeText(path, "this is not a zip archive at all, just some text\n");
  std::vector<NpzArray> arrays;
  Status s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "zip");
  // A bare .npy is not an .npz either.
  writeFile(path, rawNpy("{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (1,), }",
                         bytesOf(std::vector<float>{1})));
  EXPECT_ERROR_MENTIONS(readNpz(path, arrays), path);
}

TEST(Npz, MemberThatIsNotNpy) {
  std::string dir = makeTempDir();
  std::string txt = "hello";
  std::string path = zipWith(dir, "m.npz", "readme.txt",
                             std::vector<uint8_t>(txt.begin(), txt.end()));
  std::vector<NpzArray> arrays;
  Status s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "readme.txt");
  EXPECT_ERROR_MENTIONS(s, "not an .npy");

  // Named .npy but not one (numpy would hand back raw bytes / pickle).
  path = zipWith(dir, "p.npz", "arr.npy",
                 std::vector<uint8_t>(txt.begin(), txt.end()));
  s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'arr'");
  EXPECT_ERROR_MENTIONS(s, "magic");
}

TEST(Npz, DirectoryEntriesAreIgnored) {
  std::string dir = makeTempDir();
  std::string path = dir + "/d.npz";
  ASSERT_TRUE(writeZip(
      path, {{"meta/", {}},
             {"meta/w.npy",
              rawNpy("{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (2,), }",
                     bytesOf(std::vector<float>{1.5f, 2.5f}))}}));
  std::vector<NpzArray> arrays;
  Status s = readNpz(path, arrays);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(arrays.size(), 1u);
  EXPECT_EQ(arrays[0].name, "meta/w");
  EXPECT_EQ(arrays[0].f32, (std::vector<float>{1.5f, 2.5f}));
}

TEST(Npz, BadNpyHeaders) {
  std::string dir = makeTempDir();
  std::vector<uint8_t> four = bytesOf(std::vector<float>{1, 2, 3, 4});
  struct Case {
    const char *what;
    std::vector<uint8_t> npy;
    const char *needle;
  } cases[] = {
      {"garbage dict", rawNpy("not a dict", four), "bad .npy header"},
      {"unclosed dict", rawNpy("{'descr': '<f4', 'fortran_order': False", four),
       "bad .npy header"},
      {"missing shape", rawNpy("{'descr': '<f4', 'fortran_order': False, }",
                               four),
       "missing key 'shape'"},
      {"extra key",
       rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), "
              "'x': 1, }",
              four),
       "bad .npy header"},
      {"negative dim",
       rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }",
              four),
       "bad .npy header"},
      {"shape not a tuple",
       rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': 4, }", four),
       "bad .npy header"},
      {"structured dtype",
       rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, "
              "'shape': (4,), }",
              four),
       "structured"},
      {"version 9.0",
       [&] {
         auto v = rawNpy("{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (4,), }",
                         four);
         v[6] = 9;
         return v;
       }(),
       "version 9.0"},
      {"header length past the end",
       [&] {
         auto v = rawNpy("{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (4,), }",
                         {});
         v[9] = 0x7f;
         return v;
       }(),
       "truncated .npy header"},
      {"only the magic", {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0x10}, "header"},
      {"short data",
       rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
              four),
       "truncated data"},
      {"long data",
       rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
              four),
       "trailing data"},
      {"huge shape",
       rawNpy("{'descr': '<f8', 'fortran_order': False, "
              "'shape': (4294967296, 4294967296, 16), }",
              four),
       "too large"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    std::string path = zipWith(dir, "bad.npz", "w.npy", c.npy);
    std::vector<NpzArray> arrays;
    Status s = readNpz(path, arrays);
    EXPECT_ERROR_MENTIONS(s, path);
    EXPECT_ERROR_MENTIONS(s, "'w'");
    EXPECT_ERROR_MENTIONS(s, c.needle);
    EXPECT_TRUE(arrays.empty());
  }
}

TEST(Npz, FortranOrderIsRejected) {
  std::string dir = makeTempDir();
  std::string path = zipWith(
      dir, "f.npz", "w.npy",
      rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
             bytesOf(std::vector<float>{1, 2, 3, 4})));
  std::vector<NpzArray> arrays;
  Status s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'w'");
  EXPECT_ERROR_MENTIONS(s, "Fortran");
}

TEST(Npz, UnsupportedDtypes) {
  std::string dir = makeTempDir();
  struct Case {
    const char *descr;
    size_t itemSize;
    const char *needle;
  } cases[] = {{"|b1", 1, "bool"},     {"<u1", 1, "uint8"},
               {"|u1", 1, "uint8"},    {">f4", 4, "big-endian"},
               {"<f2", 2, "float16"},  {"<i2", 2, "int16"},
               {"<c8", 8, "complex"},  {"|O", 8, "objects"},
               {"<U3", 12, "string"}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.descr);
    std::string path = zipWith(
        dir, "dt.npz", "flags.npy",
        rawNpy(std::string("{'descr': '") + c.descr +
                   "', 'fortran_order': False, 'shape': (3,), }",
               std::vector<uint8_t>(3 * c.itemSize, 1)));
    std::vector<NpzArray> arrays;
    Status s = readNpz(path, arrays);
    EXPECT_ERROR_MENTIONS(s, path);
    EXPECT_ERROR_MENTIONS(s, "'flags'");
    EXPECT_ERROR_MENTIONS(s, std::string("unsupported dtype '") + c.descr);
    EXPECT_ERROR_MENTIONS(s, c.needle);
  }
}

TEST(Npz, Int64IsConvertedWhenInRange) {
  std::string dir = makeTempDir();
  std::vector<int64_t> ok = {0, -1, INT32_MIN, INT32_MAX, 42, 7};
  std::string path = zipWith(
      dir, "i8.npz", "labels.npy",
      rawNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }",
             bytesOf(ok)));
  std::vector<NpzArray> arrays;
  Status s = readNpz(path, arrays);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(arrays.size(), 1u);
  EXPECT_EQ(arrays[0].type, NpzArray::Type::I32);
  EXPECT_EQ(arrays[0].shape, (Shape{2, 3}));
  EXPECT_EQ(arrays[0].i32,
            (std::vector<int32_t>{0, -1, INT32_MIN, INT32_MAX, 42, 7}));

  std::vector<int64_t> bad = {1, int64_t(INT32_MAX) + 1};
  path = zipWith(
      dir, "i8bad.npz", "labels.npy",
      rawNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
             bytesOf(bad)));
  s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'labels'");
  EXPECT_ERROR_MENTIONS(s, "2147483648");
  EXPECT_ERROR_MENTIONS(s, "int32");
}

TEST(Npz, AcceptsVersion2AndOtherHeaderSpellings) {
  std::string dir = makeTempDir();
  std::string path = dir + "/v2.npz";
  ASSERT_TRUE(writeZip(
      path,
      {{"a.npy", rawNpy("{'descr': '<f8', 'fortran_order': False, "
                        "'shape': (2,), }",
                        bytesOf(std::vector<double>{0.5, -2}), 2)},
       // Other key order, double quotes, no trailing comma, Python 2 longs.
       {"b.npy", rawNpy("{\"shape\": (1L, 2L), \"fortran_order\": False, "
                        "\"descr\": \"<i4\"}",
                        bytesOf(std::vector<int32_t>{5, 6}))},
       {"c.npy", rawNpy("{'descr':'<f4','fortran_order':False,'shape':()}",
                        bytesOf(std::vector<float>{9}), 3)}}));
  std::vector<NpzArray> arrays;
  Status s = readNpz(path, arrays);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(arrays[0].f64, (std::vector<double>{0.5, -2}));
  EXPECT_EQ(arrays[1].shape, (Shape{1, 2}));
  EXPECT_EQ(arrays[1].i32, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(arrays[2].shape, Shape{});
  EXPECT_EQ(arrays[2].f32, std::vector<float>{9});
}

//===----------------------------------------------------------------------===//
// getFloat / getInt
//===----------------------------------------------------------------------===//

TEST(Npz, GetFloatAndGetInt) {
  std::string dir = makeTempDir();
  std::string path = dir + "/g.npz";
  NpzWriter w;
  w.add("w", iota<float>({2, 3}, 0.5f, 0.0f));
  w.add("d", iota<double>({4}, 0.25, 1.0));
  w.add("i", iota<int32_t>({3}, 2, -1));
  w.addScalar("lr", 0.125);
  ASSERT_TRUE(w.write(path).ok());
  std::vector<NpzArray> arrays;
  ASSERT_TRUE(readNpz(path, arrays).ok());

  Tensor<float> f;
  ASSERT_TRUE(getFloat(arrays, path, "w", {2, 3}, f).ok());
  EXPECT_EQ(f.shape, (Shape{2, 3}));
  EXPECT_EQ(f.data, iota<float>({2, 3}, 0.5f, 0.0f).data);
  ASSERT_TRUE(getFloat(arrays, path, "d", {}, f).ok()) << "no shape check";
  EXPECT_EQ(f.shape, Shape{4});
  EXPECT_EQ(f.data, (std::vector<float>{1.0f, 1.25f, 1.5f, 1.75f}));
  ASSERT_TRUE(getFloat(arrays, path, "lr", {}, f).ok());
  EXPECT_EQ(f.shape, Shape{});
  EXPECT_EQ(f.data, std::vector<float>{0.125f});

  Tensor<int32_t> n;
  ASSERT_TRUE(getInt(arrays, path, "i", {3}, n).ok());
  EXPECT_EQ(n.data, (std::vector<int32_t>{-1, 1, 3}));

  Status s = getFloat(arrays, path, "w", {3, 2}, f);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'w'");
  EXPECT_ERROR_MENTIONS(s, "[2, 3]");
  EXPECT_ERROR_MENTIONS(s, "expected [3, 2]");
  s = getInt(arrays, path, "i", {4}, n);
  EXPECT_ERROR_MENTIONS(s, "'i'");
  EXPECT_ERROR_MENTIONS(s, "expected [4]");

  s = getFloat(arrays, path, "missing/thing", {}, f);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "no array 'missing/thing'");
  EXPECT_ERROR_MENTIONS(s, "'lr'"); // lists what there is
  s = getInt(arrays, path, "nope", {}, n);
  EXPECT_ERROR_MENTIONS(s, "no array 'nope'");

  s = getFloat(arrays, path, "i", {}, f);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'i' is int32");
  s = getInt(arrays, path, "w", {}, n);
  EXPECT_ERROR_MENTIONS(s, "'w' is float32");
  s = getInt(arrays, path, "d", {}, n);
  EXPECT_ERROR_MENTIONS(s, "'d' is float64");
}

//===----------------------------------------------------------------------===//
// Interoperability with numpy itself (skipped without python3 + numpy)
//===----------------------------------------------------------------------===//

/// The first of python3 (on the PATH) and /usr/bin/python3 that imports
/// NumPy (a Python of one's own may lack it where the system's has it);
/// empty if neither does.
const std::string &numpyPython() {
  static const std::string python = [] {
    for (std::string py : {"python3", "/usr/bin/python3"})
      if (std::system((py + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0)
        return py;
    return std::string();
  }();
  return python;
}

bool haveNumpy() { return !numpyPython().empty(); }

/// Runs `script` with numpyPython() (argument: `dir`); returns true on exit
/// 0 and the combined output in `log`.
bool runPython(const std::string &dir, const std::string &script,
               std::string &log) {
  writeText(dir + "/check.py", script);
  std::string cmd = numpyPython() + " '" + dir + "/check.py' '" + dir + "' > '" + dir +
                    "/check.log' 2>&1";
  int rc = std::system(cmd.c_str());
  std::vector<uint8_t> out = readBytes(dir + "/check.log");
  log.assign(out.begin(), out.end());
  return rc == 0;
}

TEST(Npz, NumpyReadsWhatWeWrite) {
  if (!haveNumpy())
    GTEST_SKIP() << "no python3 with numpy (python3 and /usr/bin/python3 "
                    "-c 'import numpy' failed)";
  std::string dir = makeTempDir();
  NpzWriter w;
  for (size_t s = 0; s < kShapes.size(); ++s) {
    std::string k = std::to_string(s);
    w.add("f32/" + k + ".w", iota<float>(kShapes[s], 0.25f, -1.5f));
    w.add("f64/" + k + ".w", iota<double>(kShapes[s], 1.0 / 3.0, 2.0));
    w.add("i32/" + k + ".w", iota<int32_t>(kShapes[s], -7, 20));
  }
  w.addScalar("meta/lr", 0.001);
  w.add("grad/conv2d_0.weight", iota<float>({4, 1, 3, 3}, 0.5f, 0.0f));
  ASSERT_TRUE(w.write(dir + "/from_cpp.npz").ok());

  std::string shapes = "[";
  for (const Shape &s : kShapes) {
    shapes += "(";
    for (int64_t d : s)
      shapes += std::to_string(d) + ",";
    shapes += "),";
  }
  shapes += "]";

  std::string script = R"PY(
import io, sys, zipfile
import numpy as np
d = sys.argv[1]
shapes = )PY" + shapes + R"PY(

def iota(shape, dtype, scale, offset):
    n = int(np.prod(shape, dtype=np.int64))
    return (np.arange(n).astype(dtype) * dtype(scale) + dtype(offset)).reshape(shape)

path = d + '/from_cpp.npz'
z = np.load(path)
expected = {'meta/lr': np.float64(0.001),
            'grad/conv2d_0.weight': iota((4, 1, 3, 3), np.float32, 0.5, 0)}
for k, s in enumerate(shapes):
    expected['f32/%d.w' % k] = iota(s, np.float32, 0.25, -1.5)
    expected['f64/%d.w' % k] = iota(s, np.float64, 1.0 / 3.0, 2.0)
    expected['i32/%d.w' % k] = iota(s, np.int32, -7, 20)
assert sorted(z.files) == sorted(expected), (sorted(z.files), sorted(expected))
for name, want in expected.items():
    got = z[name]
    want = np.asarray(want)
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    assert np.array_equal(got, want), (name, got, want)
# Every member is byte-for-byte what numpy's own writer produces.
with zipfile.ZipFile(path) as zf:
    assert zf.testzip() is None
    for info in zf.infolist():
        raw = zf.read(info.filename)
        buf = io.BytesIO()
        np.lib.format.write_array(buf, z[info.filename[:-4]])
        assert buf.getvalue() == raw, (info.filename, raw[:128], buf.getvalue()[:128])

# And the other way: numpy writes, readNpz reads.
big = np.arange(100 * 100, dtype=np.float32).reshape(100, 100) / 7
np.savez_compressed(d + '/from_numpy.npz', **{
    'meta/h.weight': np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5,
    'grad/conv2d_0.weight': np.array([1.5, -2.25, 3.0, 0.0], dtype=np.float64),
    'labels': np.array([0, 1, 2, 3, 4], dtype=np.int64),
    'idx': np.array([[7, -8], [9, 10]], dtype=np.int32),
    'scalar': np.float64(3.5),
    'empty': np.zeros((0, 3), dtype=np.float32),
    'big': big,
})
np.savez(d + '/stored.npz', a=np.array([1, 2, 3], dtype=np.int32),
         b=np.ones((2, 2, 2), dtype=np.float64))
np.savez(d + '/fortran.npz', f=np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.savez(d + '/bool.npz', mask=np.array([True, False]))
np.savez(d + '/uint8.npz', img=np.zeros((2, 2), dtype=np.uint8))
big.tofile(d + '/big.raw')
print('ok')
)PY";
  std::string log;
  ASSERT_TRUE(runPython(dir, script, log)) << log;

  std::vector<NpzArray> arrays;
  std::string path = dir + "/from_numpy.npz";
  Status s = readNpz(path, arrays);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(arrays.size(), 7u);
  Tensor<float> f;
  Tensor<int32_t> n;
  ASSERT_TRUE(getFloat(arrays, path, "meta/h.weight", {2, 3}, f).ok());
  EXPECT_EQ(f.data, (std::vector<float>{0, 0.5f, 1, 1.5f, 2, 2.5f}));
  ASSERT_TRUE(getFloat(arrays, path, "grad/conv2d_0.weight", {4}, f).ok());
  EXPECT_EQ(f.data, (std::vector<float>{1.5f, -2.25f, 3.0f, 0.0f}));
  EXPECT_EQ(find(arrays, "grad/conv2d_0.weight")->type, NpzArray::Type::F64);
  ASSERT_TRUE(getInt(arrays, path, "labels", {5}, n).ok());
  EXPECT_EQ(n.data, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  ASSERT_TRUE(getInt(arrays, path, "idx", {2, 2}, n).ok());
  EXPECT_EQ(n.data, (std::vector<int32_t>{7, -8, 9, 10}));
  const NpzArray *sc = find(arrays, "scalar");
  ASSERT_TRUE(sc);
  EXPECT_EQ(sc->shape, Shape{});
  EXPECT_EQ(sc->f64, std::vector<double>{3.5});
  ASSERT_TRUE(getFloat(arrays, path, "empty", {0, 3}, f).ok());
  EXPECT_TRUE(f.data.empty());
  ASSERT_TRUE(getFloat(arrays, path, "big", {100, 100}, f).ok());
  std::vector<uint8_t> raw = readBytes(dir + "/big.raw");
  ASSERT_EQ(raw.size(), 100 * 100 * sizeof(float));
  EXPECT_EQ(std::memcmp(raw.data(), f.data.data(), raw.size()), 0);
  zip_int32_t method = -1;
  EXPECT_FALSE(zipMember(path, "big.npy", &method).empty());
  EXPECT_EQ(method, ZIP_CM_DEFLATE) << "savez_compressed deflates";

  path = dir + "/stored.npz";
  s = readNpz(path, arrays);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(getInt(arrays, path, "a", {3}, n).ok());
  EXPECT_EQ(n.data, (std::vector<int32_t>{1, 2, 3}));
  ASSERT_TRUE(getFloat(arrays, path, "b", {2, 2, 2}, f).ok());
  EXPECT_EQ(f.data, std::vector<float>(8, 1.0f));

  path = dir + "/fortran.npz";
  s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'f'");
  EXPECT_ERROR_MENTIONS(s, "Fortran");
  path = dir + "/bool.npz";
  s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'|b1'");
  path = dir + "/uint8.npz";
  s = readNpz(path, arrays);
  EXPECT_ERROR_MENTIONS(s, path);
  EXPECT_ERROR_MENTIONS(s, "'|u1'");
}

} // namespace
