//===- FashionMnist.cpp - Fashion-MNIST as a 5/5 few-shot benchmark
//--------===//
//
// Reads the gzipped IDX files (zlib's gz* API also reads them uncompressed)
// and exposes the class split documented in Dataset.h: Train = classes 0-4
// of the training file, Val/Test = classes 5-9 of t10k, halved by image.
// The selected pixels are kept in memory (at most ~24 MB); there is nothing
// to decode lazily.
//
//===----------------------------------------------------------------------===//

#include "runtime/Dataset.h"
#include "runtime/Image.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>

namespace lopt::data {

namespace {

const char *const kClassNames[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// Fashion-MNIST's training images are 47 MB; anything claiming much more is
// a corrupt header, not a bigger dataset worth allocating for.
constexpr uint64_t kMaxIdxBytes = uint64_t(1) << 30;

struct Idx {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
};

uint32_t bigEndian32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 |
         uint32_t(p[3]);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Reads exactly `n` bytes; false on a short read or an inflate error.
bool gzReadExact(gzFile f, uint8_t *dst, uint64_t n) {
  while (n > 0) {
    unsigned chunk = unsigned(std::min<uint64_t>(n, 1u << 30));
    int got = gzread(f, dst, chunk);
    if (got <= 0)
      return false;
    dst += got;
    n -= uint64_t(got);
  }
  return true;
}

std::string gzReason(gzFile f) {
  int code = Z_OK;
  const char *msg = gzerror(f, &code);
  if (code == Z_OK || !msg || !*msg)
    return "file is truncated";
  return msg;
}

/// Reads an IDX file of unsigned bytes with `rank` dimensions (magic
/// 0x00000800 | rank), checking the header against the file's length.
Status readIdx(const std::string &path, int rank, Idx &out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    return Status::error(path + ": cannot open");
  uint8_t header[4 + 4 * 4];
  size_t headerBytes = 4 + 4 * size_t(rank);
  if (!gzReadExact(f, header, headerBytes)) {
    std::string why = gzReason(f);
    gzclose(f);
    return Status::error(path + ": cannot read the IDX header (" + why + ")");
  }
  uint32_t magic = bigEndian32(header);
  uint32_t expected = 0x00000800u | uint32_t(rank);
  if (magic != expected) {
    gzclose(f);
    return Status::error(path + ": bad IDX magic number " + hex32(magic) +
                         ", expected " + hex32(expected) +
                         " (unsigned bytes, " + std::to_string(rank) +
                         " dimensions)");
  }
  out.dims.clear();
  uint64_t total = 1;
  for (int d = 0; d < rank; ++d) {
    out.dims.push_back(bigEndian32(header + 4 + 4 * d));
    total *= out.dims.back();
    if (total > kMaxIdxBytes) {
      gzclose(f);
      return Status::error(path + ": IDX header claims an implausibly large "
                                  "array");
    }
  }
  out.data.resize(total);
  if (!gzReadExact(f, out.data.data(), total)) {
    std::string why = gzReason(f);
    gzclose(f);
    return Status::error(path + ": expected " + std::to_string(total) +
                         " bytes of data after the IDX header, but " + why);
  }
  uint8_t extra;
  int more = gzread(f, &extra, 1);
  gzclose(f);
  if (more != 0)
    return Status::error(path + ": " +
                         (more > 0 ? std::string("trailing bytes after the "
                                                 "IDX data")
                                   : std::string("corrupt compressed data")));
  return Status::success();
}

/// dir/<base>.gz, or the uncompressed dir/<base> if only that exists.
std::string findIdx(const std::string &dir, const std::string &base) {
  std::string gz = joinPath(dir, base + ".gz");
  if (!isRegularFile(gz) && isRegularFile(joinPath(dir, base)))
    return joinPath(dir, base);
  return gz;
}

class FashionMnistDataset : public Dataset {
public:
  FashionMnistDataset(std::string dir, Split split, ImageSpec spec)
      : Dataset(spec), Dir(std::move(dir)), TheSplit(split) {}

  Status open();

  std::string describe() const override {
    return "Fashion-MNIST (split '" + std::string(splitName(TheSplit)) + "', " +
           std::to_string(Names.size()) + " classes, from " + ImagesPath + ")";
  }
  size_t numClasses() const override { return Names.size(); }
  const std::string &className(size_t c) const override { return Names[c]; }
  size_t numImages(size_t c) const override { return Members[c].size(); }
  Status loadImage(size_t c, size_t i, float *out) override;

private:
  std::string Dir, ImagesPath;
  Split TheSplit;
  int Rows = 0, Cols = 0;
  std::vector<std::string> Names;
  std::vector<std::vector<uint32_t>> Members; // per class: index into Pixels
  std::vector<uint32_t> FileIndex;            // per kept image: index in file
  std::vector<uint8_t> Pixels;                // kept images, Rows*Cols each
};

Status FashionMnistDataset::open() {
  bool train = TheSplit == Split::Train;
  std::string prefix = train ? "train" : "t10k";
  ImagesPath = findIdx(Dir, prefix + "-images-idx3-ubyte");
  std::string labelsPath = findIdx(Dir, prefix + "-labels-idx1-ubyte");
  if (!isRegularFile(ImagesPath))
    return Status::error(ImagesPath + ": not found (Fashion-MNIST needs " +
                         prefix + "-images-idx3-ubyte.gz in " + Dir + ")");
  if (!isRegularFile(labelsPath))
    return Status::error(labelsPath + ": not found (Fashion-MNIST needs " +
                         prefix + "-labels-idx1-ubyte.gz in " + Dir + ")");

  Idx images, labels;
  if (Status s = readIdx(ImagesPath, 3, images); !s)
    return s;
  if (Status s = readIdx(labelsPath, 1, labels); !s)
    return s;
  if (images.dims[0] != labels.dims[0])
    return Status::error(ImagesPath + ": has " +
                         std::to_string(images.dims[0]) + " images but " +
                         labelsPath + " has " + std::to_string(labels.dims[0]) +
                         " labels");
  if (images.dims[1] == 0 || images.dims[2] == 0 || images.dims[1] > 4096 ||
      images.dims[2] > 4096)
    return Status::error(ImagesPath + ": bad image size " +
                         std::to_string(images.dims[1]) + "x" +
                         std::to_string(images.dims[2]));
  Rows = int(images.dims[1]);
  Cols = int(images.dims[2]);

  // Five classes per split; see Dataset.h for why val and test share them.
  int firstClass = train ? 0 : 5;
  std::vector<std::vector<uint32_t>> byClass(5);
  for (uint32_t n = 0; n < labels.dims[0]; ++n) {
    uint8_t label = labels.data[n];
    if (label > 9)
      return Status::error(labelsPath + ": label " + std::to_string(label) +
                           " of item " + std::to_string(n) +
                           " is out of range 0..9");
    if (label >= firstClass && label < firstClass + 5)
      byClass[label - firstClass].push_back(n);
  }

  size_t imageBytes = size_t(Rows) * Cols;
  for (int k = 0; k < 5; ++k) {
    std::vector<uint32_t> &all = byClass[k];
    size_t begin = 0, end = all.size();
    if (TheSplit == Split::Val)
      end = all.size() / 2;
    else if (TheSplit == Split::Test)
      begin = all.size() / 2;
    Names.push_back(kClassNames[firstClass + k]);
    Members.emplace_back();
    for (size_t j = begin; j < end; ++j) {
      Members.back().push_back(uint32_t(FileIndex.size()));
      FileIndex.push_back(all[j]);
      Pixels.insert(Pixels.end(), images.data.begin() + all[j] * imageBytes,
                    images.data.begin() + (all[j] + 1) * imageBytes);
    }
  }
  return Status::success();
}

Status FashionMnistDataset::loadImage(size_t c, size_t i, float *out) {
  if (Status s = checkIndex(c, i); !s)
    return s;
  uint32_t k = Members[c][i];
  FloatImage img(1, Rows, Cols);
  const uint8_t *src = Pixels.data() + size_t(k) * Rows * Cols;
  for (size_t p = 0; p < img.data.size(); ++p)
    img.data[p] = src[p] * (1.0f / 255.0f);
  return convertToSpec(
      img, Spec, ImagesPath + "[" + std::to_string(FileIndex[k]) + "]", out);
}

} // namespace

Status openFashionMnist(const std::string &dir, Split split, ImageSpec spec,
                        std::unique_ptr<Dataset> &out) {
  if (Status s = checkImageSpec(spec, "Fashion-MNIST at " + dir); !s)
    return s;
  if (!isDirectory(dir))
    return Status::error(dir + ": no such directory (expected the folder with "
                               "Fashion-MNIST's *-idx*-ubyte.gz files)");
  auto ds = std::make_unique<FashionMnistDataset>(dir, split, spec);
  if (Status s = ds->open(); !s)
    return s;
  out = std::move(ds);
  return Status::success();
}

} // namespace lopt::data
