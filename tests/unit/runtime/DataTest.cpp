//===- DataTest.cpp - dataset loaders on synthetic and real data
//-----------===//
//
// Synthetic layouts written to a temp dir cover the loaders' logic and every
// malformed-input path; the real benchmarks (skipped when absent) check the
// Vinyals / Ravi split sizes and the Fashion-MNIST class split.
//
//===----------------------------------------------------------------------===//

#include "runtime/Dataset.h"
#include "runtime/EpisodeSampler.h"
#include "runtime/Image.h"

#include <png.h>

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <set>

namespace lopt::data::testing {
// From TestSupport.cpp.
std::vector<uint8_t>
encodePng(int width, int height, int bitDepth, int colorType,
          const std::vector<uint16_t> &samples,
          const std::vector<std::array<uint8_t, 3>> &palette);
std::vector<uint8_t> encodeJpeg(int width, int height, int components,
                                const std::vector<uint8_t> &samples,
                                int quality);
std::string makeTempDir();
void makeDirs(const std::string &path);
void writeFile(const std::string &path, const std::vector<uint8_t> &bytes);
void writeText(const std::string &path, const std::string &text);
bool writeZip(
    const std::string &path,
    const std::vector<std::pair<std::string, std::vector<uint8_t>>> &entries);
void writeGz(const std::string &path, const std::vector<uint8_t> &bytes);
} // namespace lopt::data::testing

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

//===----------------------------------------------------------------------===//
// Synthetic Omniglot
//===----------------------------------------------------------------------===//

// A 4x4 1-bit omniglot-style PNG: white paper with one black pixel at (y, x).
std::vector<uint8_t> dotPng(int y, int x) {
  std::vector<uint16_t> s(16, 1);
  s[y * 4 + x] = 0;
  return encodePng(4, 4, 1, PNG_COLOR_TYPE_GRAY, s, {});
}

// Background archive as a zip (Alpha, 3 drawings of character01, ink at the
// top-right corner), evaluation archive as an extracted folder (Beta).
std::string makeOmniglot(const std::string &trainSplit) {
  std::string root = makeTempDir();
  std::vector<std::pair<std::string, std::vector<uint8_t>>> entries;
  entries.push_back({"images_background/", {}});
  for (int i = 1; i <= 3; ++i)
    entries.push_back({"images_background/Alpha/character01/0001_0" +
                           std::to_string(i) + ".png",
                       dotPng(0, 3)});
  entries.push_back(
      {"images_background/Alpha/character02/0002_01.png", dotPng(1, 1)});
  EXPECT_TRUE(writeZip(root + "/images_background.zip", entries));
  makeDirs(root + "/images_evaluation/Beta/character01");
  for (int i = 1; i <= 3; ++i)
    writeFile(root + "/images_evaluation/Beta/character01/0100_0" +
                  std::to_string(i) + ".png",
              dotPng(3, 0));
  makeDirs(root + "/splits/vinyals");
  writeText(root + "/splits/vinyals/train.txt", trainSplit);
  return root;
}

const ImageSpec kGrey4 = {1, 4, 4};

TEST(OmniglotSynthetic, OpensZipAndFolderAndRotates) {
  std::string root = makeOmniglot("Alpha/character01/rot000\r\n"
                                  "Alpha/character01/rot090\n"
                                  "\n"
                                  "Beta/character01/rot180\n");
  std::unique_ptr<Dataset> ds;
  Status s = openOmniglot(root, Split::Train, kGrey4, ds);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(ds->numClasses(), 3u);
  EXPECT_EQ(ds->className(1), "Alpha/character01/rot090");
  EXPECT_EQ(ds->numImages(0), 3u);
  EXPECT_EQ(ds->numImages(2), 3u);
  EXPECT_NE(ds->describe().find("'train', 3 classes"), std::string::npos)
      << ds->describe();

  std::vector<float> px(16);
  // rot000: ink (1.0) where the PNG is black, at the top-right.
  ASSERT_TRUE(ds->loadImage(0, 2, px.data()).ok());
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(px[i], i == 3 ? 1.0f : 0.0f) << i;
  // rot090 counter-clockwise moves the top-right corner to the top-left.
  ASSERT_TRUE(ds->loadImage(1, 0, px.data()).ok());
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(px[i], i == 0 ? 1.0f : 0.0f) << i;
  // Folder source, rot180: bottom-left -> top-right.
  s = ds->loadImage(2, 1, px.data());
  ASSERT_TRUE(s.ok()) << s.message();
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(px[i], i == 3 ? 1.0f : 0.0f) << i;

  EXPECT_FALSE(ds->loadImage(3, 0, px.data()).ok());
  EXPECT_FALSE(ds->loadImage(0, 3, px.data()).ok());

  // The same layout through detection, and a resized RGB spec.
  std::unique_ptr<Dataset> rgb;
  s = openDataset(root, Split::Train, {3, 2, 2}, rgb);
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<float> small(12);
  ASSERT_TRUE(rgb->loadImage(0, 0, small.data()).ok());
  for (int c = 0; c < 3; ++c) // the 2x2 block holding the dot averages 1/4
    EXPECT_FLOAT_EQ(small[c * 4 + 1], 0.25f);
}

TEST(OmniglotSynthetic, UnknownCharacterNamesSplitFileAndLine) {
  std::string root = makeOmniglot("Alpha/character01/rot000\n"
                                  "Gamma/character07/rot000\n");
  std::unique_ptr<Dataset> ds;
  Status s = openOmniglot(root, Split::Train, kGrey4, ds);
  EXPECT_ERROR_MENTIONS(s, "splits/vinyals/train.txt:2:");
  EXPECT_ERROR_MENTIONS(s, "Gamma/character07");
  EXPECT_EQ(ds, nullptr);
}

TEST(OmniglotSynthetic, MalformedSplitLines) {
  for (const char *bad :
       {"Alpha/character01\n", "Alpha/character01/rot045\n",
        "Alpha/character01/rot90\n", "Alpha/character01/rot000/x\n"}) {
    std::string root =
        makeOmniglot(std::string("Alpha/character01/rot000\n") + bad);
    std::unique_ptr<Dataset> ds;
    Status s = openOmniglot(root, Split::Train, kGrey4, ds);
    EXPECT_ERROR_MENTIONS(s, "train.txt:2:");
  }
  std::string root = makeOmniglot("Alpha/character01/rot000\n"
                                  "Alpha/character01/rot000\n");
  std::unique_ptr<Dataset> ds;
  EXPECT_ERROR_MENTIONS(openOmniglot(root, Split::Train, kGrey4, ds),
                        "already listed on line 1");
}

TEST(OmniglotSynthetic, MissingSplitFileIsNamed) {
  std::string root = makeOmniglot("Alpha/character01/rot000\n");
  std::unique_ptr<Dataset> ds;
  EXPECT_ERROR_MENTIONS(openOmniglot(root, Split::Val, kGrey4, ds),
                        "splits/vinyals/val.txt");
}

TEST(OmniglotSynthetic, GarbageZipIsNotAZipArchive) {
  std::string root = makeOmniglot("Beta/character01/rot000\n");
  writeText(root + "/images_background.zip", "this is not a zip file at all");
  std::unique_ptr<Dataset> ds;
  EXPECT_ERROR_MENTIONS(openOmniglot(root, Split::Train, kGrey4, ds),
                        "images_background.zip: not a zip archive");
  // A zip cut in half loses its central directory.
  std::string root2 = makeOmniglot("Beta/character01/rot000\n");
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(readFile(root2 + "/images_background.zip", bytes).ok());
  bytes.resize(bytes.size() / 2);
  writeFile(root2 + "/images_background.zip", bytes);
  EXPECT_ERROR_MENTIONS(openOmniglot(root2, Split::Train, kGrey4, ds),
                        "images_background.zip");
}

TEST(OmniglotSynthetic, TruncatedPngInZipFailsOnLoadNamingEntry) {
  std::string root = makeTempDir();
  std::vector<uint8_t> png = dotPng(0, 0);
  std::vector<uint8_t> cut(png.begin(), png.begin() + png.size() / 2);
  ASSERT_TRUE(writeZip(root + "/images_background.zip",
                       {{"images_background/A/character01/1_01.png", png},
                        {"images_background/A/character01/1_02.png", cut}}));
  makeDirs(root + "/splits/vinyals");
  writeText(root + "/splits/vinyals/test.txt", "A/character01/rot270\n");
  std::unique_ptr<Dataset> ds;
  Status s = openOmniglot(root, Split::Test, kGrey4, ds);
  ASSERT_TRUE(s.ok()) << s.message(); // decoding is lazy
  std::vector<float> px(16);
  EXPECT_TRUE(ds->loadImage(0, 0, px.data()).ok());
  s = ds->loadImage(0, 1, px.data());
  EXPECT_ERROR_MENTIONS(s, "images_background.zip:");
  EXPECT_ERROR_MENTIONS(s, "1_02.png");
}

TEST(OmniglotSynthetic, NoArchivesListsWhatWasLookedFor) {
  std::string root = makeTempDir();
  makeDirs(root + "/splits/vinyals");
  writeText(root + "/splits/vinyals/train.txt", "A/character01/rot000\n");
  std::unique_ptr<Dataset> ds;
  Status s = openOmniglot(root, Split::Train, kGrey4, ds);
  EXPECT_ERROR_MENTIONS(s, root);
  EXPECT_ERROR_MENTIONS(s, "images_background.zip");
}

TEST(DatasetTest, DetectionFailureNamesPathAndLayouts) {
  std::string root = makeTempDir();
  std::unique_ptr<Dataset> ds;
  Status s = openDataset(root, Split::Train, kGrey4, ds);
  EXPECT_ERROR_MENTIONS(s, root);
  EXPECT_ERROR_MENTIONS(s, "splits/vinyals");
  EXPECT_ERROR_MENTIONS(s, "train.csv");
  EXPECT_ERROR_MENTIONS(s, "train-images-idx3-ubyte.gz");
  EXPECT_ERROR_MENTIONS(openDataset(root + "/nope", Split::Train, kGrey4, ds),
                        root + "/nope");
}

TEST(DatasetTest, SplitNamesAndSpecChecks) {
  EXPECT_STREQ(splitName(Split::Train), "train");
  EXPECT_STREQ(splitName(Split::Val), "val");
  EXPECT_STREQ(splitName(Split::Test), "test");
  Split sp;
  EXPECT_TRUE(parseSplit("val", sp).ok());
  EXPECT_EQ(sp, Split::Val);
  EXPECT_ERROR_MENTIONS(parseSplit("validation", sp), "validation");
  std::unique_ptr<Dataset> ds;
  std::string root = makeOmniglot("Alpha/character01/rot000\n");
  EXPECT_ERROR_MENTIONS(openOmniglot(root, Split::Train, {2, 28, 28}, ds),
                        "channels");
  EXPECT_ERROR_MENTIONS(openOmniglot(root, Split::Train, {1, 0, 28}, ds),
                        "out of range");
  EXPECT_TRUE(Status::success().ok());
  EXPECT_TRUE(bool(Status::success()));
  EXPECT_FALSE(bool(Status::error("x")));
  EXPECT_EQ(Status::error("b").withPrefix("a: ").message(), "a: b");
}

//===----------------------------------------------------------------------===//
// Synthetic Fashion-MNIST
//===----------------------------------------------------------------------===//

std::vector<uint8_t> idx(uint32_t magic, std::vector<uint32_t> dims,
                         const std::vector<uint8_t> &data) {
  std::vector<uint8_t> out;
  auto put = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8)
      out.push_back(uint8_t(v >> s));
  };
  put(magic);
  for (uint32_t d : dims)
    put(d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// train: 10 images (labels 0..9); t10k: 40 images, 4 per class, labels
// cycling 0..9. Pixel bytes encode (label, occurrence) so tests can tell
// images apart.
std::string makeFashion() {
  std::string dir = makeTempDir();
  for (const char *prefix : {"train", "t10k"}) {
    uint32_t n = std::string(prefix) == "train" ? 10 : 40;
    std::vector<uint8_t> pixels, labels;
    for (uint32_t k = 0; k < n; ++k) {
      labels.push_back(uint8_t(k % 10));
      for (int p = 0; p < 4; ++p)
        pixels.push_back(uint8_t(k * 5 + p));
    }
    writeGz(dir + "/" + prefix + "-images-idx3-ubyte.gz",
            idx(0x803, {n, 2, 2}, pixels));
    writeGz(dir + "/" + prefix + "-labels-idx1-ubyte.gz",
            idx(0x801, {n}, labels));
  }
  return dir;
}

TEST(FashionMnistSynthetic, ClassSplitAndPixels) {
  std::string dir = makeFashion();
  std::unique_ptr<Dataset> train, val, test;
  ASSERT_TRUE(openFashionMnist(dir, Split::Train, {1, 2, 2}, train).ok());
  ASSERT_TRUE(openFashionMnist(dir, Split::Val, {1, 2, 2}, val).ok());
  Status s = openDataset(dir, Split::Test, {1, 2, 2}, test);
  ASSERT_TRUE(s.ok()) << s.message();

  ASSERT_EQ(train->numClasses(), 5u);
  EXPECT_EQ(train->className(0), "T-shirt/top");
  EXPECT_EQ(train->className(4), "Coat");
  EXPECT_EQ(train->numImages(3), 1u);
  ASSERT_EQ(val->numClasses(), 5u);
  EXPECT_EQ(val->className(0), "Sandal");
  EXPECT_EQ(test->className(4), "Ankle boot");
  EXPECT_EQ(val->numImages(0), 2u);
  EXPECT_EQ(test->numImages(0), 2u);

  std::vector<float> px(4);
  ASSERT_TRUE(train->loadImage(2, 0, px.data()).ok()); // train item 2
  EXPECT_FLOAT_EQ(px[1], 11 / 255.0f);
  // Sandal (5) occurs at t10k items 5, 15, 25, 35: val gets 5 and 15.
  ASSERT_TRUE(val->loadImage(0, 1, px.data()).ok());
  EXPECT_FLOAT_EQ(px[0], 75 / 255.0f);
  ASSERT_TRUE(test->loadImage(0, 0, px.data()).ok());
  EXPECT_FLOAT_EQ(px[0], 125 / 255.0f);
}

TEST(FashionMnistSynthetic, BadMagicTruncationAndMismatch) {
  std::unique_ptr<Dataset> ds;
  {
    std::string dir = makeFashion();
    writeGz(dir + "/train-images-idx3-ubyte.gz",
            idx(0x801, {10, 2, 2}, std::vector<uint8_t>(40)));
    Status s = openFashionMnist(dir, Split::Train, {1, 2, 2}, ds);
    EXPECT_ERROR_MENTIONS(s, "train-images-idx3-ubyte.gz");
    EXPECT_ERROR_MENTIONS(s, "magic");
  }
  {
    std::string dir = makeFashion();
    writeGz(dir + "/t10k-labels-idx1-ubyte.gz",
            idx(0x801, {40}, std::vector<uint8_t>(25)));
    EXPECT_ERROR_MENTIONS(openFashionMnist(dir, Split::Val, {1, 2, 2}, ds),
                          "t10k-labels-idx1-ubyte.gz");
  }
  {
    // A gzip stream cut short.
    std::string dir = makeFashion();
    std::vector<uint8_t> big(10 * 28 * 28);
    for (size_t i = 0; i < big.size(); ++i)
      big[i] = uint8_t(i * 131);
    writeGz(dir + "/train-images-idx3-ubyte.gz", idx(0x803, {10, 28, 28}, big));
    std::vector<uint8_t> gz;
    ASSERT_TRUE(readFile(dir + "/train-images-idx3-ubyte.gz", gz).ok());
    gz.resize(gz.size() / 2);
    writeFile(dir + "/train-images-idx3-ubyte.gz", gz);
    EXPECT_ERROR_MENTIONS(openFashionMnist(dir, Split::Train, {1, 28, 28}, ds),
                          "train-images-idx3-ubyte.gz");
  }
  {
    std::string dir = makeFashion();
    writeGz(dir + "/train-labels-idx1-ubyte.gz",
            idx(0x801, {9}, std::vector<uint8_t>(9)));
    Status s = openFashionMnist(dir, Split::Train, {1, 2, 2}, ds);
    EXPECT_ERROR_MENTIONS(s, "train-images-idx3-ubyte.gz");
    EXPECT_ERROR_MENTIONS(s, "9 labels");
  }
  {
    std::string dir = makeFashion();
    writeGz(dir + "/train-labels-idx1-ubyte.gz",
            idx(0x801, {10}, std::vector<uint8_t>(10, 12)));
    EXPECT_ERROR_MENTIONS(openFashionMnist(dir, Split::Train, {1, 2, 2}, ds),
                          "label 12");
  }
  {
    std::string dir = makeTempDir();
    EXPECT_ERROR_MENTIONS(openFashionMnist(dir, Split::Test, {1, 2, 2}, ds),
                          "t10k-images-idx3-ubyte.gz");
  }
}

//===----------------------------------------------------------------------===//
// Synthetic Mini-ImageNet
//===----------------------------------------------------------------------===//

std::vector<uint8_t> solidJpeg(uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 8 * 8; ++i) {
    rgb.push_back(r);
    rgb.push_back(g);
    rgb.push_back(b);
  }
  return encodeJpeg(8, 8, 3, rgb, 100);
}

std::string makeMini(const std::string &csv) {
  std::string root = makeTempDir();
  makeDirs(root + "/images");
  writeFile(root + "/images/a1.jpg", solidJpeg(255, 0, 0));
  writeFile(root + "/images/a2.jpg", solidJpeg(250, 0, 0));
  writeFile(root + "/images/b1.jpg", solidJpeg(0, 0, 255));
  writeText(root + "/train.csv", csv);
  return root;
}

TEST(MiniImagenetSynthetic, OpensAndResizes) {
  std::string root = makeMini("filename,label\r\nb1.jpg,nB\r\na1.jpg,nA\r\n"
                              "a2.jpg,nA\r\n");
  std::unique_ptr<Dataset> ds;
  Status s = openDataset(root, Split::Train, {3, 4, 4}, ds);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(ds->numClasses(), 2u);
  EXPECT_EQ(ds->className(0), "nB"); // order of first appearance
  EXPECT_EQ(ds->numImages(1), 2u);
  std::vector<float> px(3 * 16);
  ASSERT_TRUE(ds->loadImage(0, 0, px.data()).ok());
  EXPECT_NEAR(px[0], 0.0f, 0.02f);          // R plane
  EXPECT_NEAR(px[2 * 16 + 5], 1.0f, 0.02f); // B plane
  std::unique_ptr<Dataset> grey;
  ASSERT_TRUE(openMiniImagenet(root, Split::Train, {1, 8, 8}, grey).ok());
  std::vector<float> g(64);
  ASSERT_TRUE(grey->loadImage(1, 0, g.data()).ok());
  EXPECT_NEAR(g[10], 0.299f, 0.02f);
}

TEST(MiniImagenetSynthetic, MissingImageNamesCsvLineAndPath) {
  std::string root = makeMini("filename,label\na1.jpg,nA\nzz.jpg,nA\n");
  std::unique_ptr<Dataset> ds;
  Status s = openMiniImagenet(root, Split::Train, {3, 84, 84}, ds);
  EXPECT_ERROR_MENTIONS(s, "train.csv:3:");
  EXPECT_ERROR_MENTIONS(s, "image 'zz.jpg' not found in " + root + "/images/");
}

TEST(MiniImagenetSynthetic, MalformedCsv) {
  std::unique_ptr<Dataset> ds;
  EXPECT_ERROR_MENTIONS(openMiniImagenet(makeMini("file,class\na1.jpg,nA\n"),
                                         Split::Train, {3, 8, 8}, ds),
                        "train.csv:1:");
  EXPECT_ERROR_MENTIONS(openMiniImagenet(makeMini("filename,label\na1.jpg\n"),
                                         Split::Train, {3, 8, 8}, ds),
                        "train.csv:2:");
  EXPECT_ERROR_MENTIONS(
      openMiniImagenet(makeMini("filename,label\na1.jpg,nA,x\n"), Split::Train,
                       {3, 8, 8}, ds),
      "train.csv:2:");
  EXPECT_ERROR_MENTIONS(
      openMiniImagenet(makeMini("filename,label\na1.jpg,nA\n,nA\n"),
                       Split::Train, {3, 8, 8}, ds),
      "train.csv:3:");
  EXPECT_ERROR_MENTIONS(
      openMiniImagenet(makeMini(""), Split::Train, {3, 8, 8}, ds),
      "train.csv: empty");
}

TEST(MiniImagenetSynthetic, RaviCsvIsNotUsedSilently) {
  std::string root = makeMini("filename,label\na1.jpg,nA\n");
  makeDirs(root + "/splits/ravi");
  writeText(root + "/splits/ravi/val.csv", "filename,label\na1.jpg,nA\n");
  std::unique_ptr<Dataset> ds;
  Status s = openMiniImagenet(root, Split::Val, {3, 8, 8}, ds);
  EXPECT_ERROR_MENTIONS(s, root + "/val.csv: not found");
  EXPECT_ERROR_MENTIONS(s, "splits/ravi/val.csv exists but is not used");
}

TEST(MiniImagenetSynthetic, CorruptJpegFailsOnLoadNamingFile) {
  std::string root = makeMini("filename,label\na1.jpg,nA\na2.jpg,nA\n");
  std::vector<uint8_t> jpg = solidJpeg(1, 2, 3);
  jpg.resize(jpg.size() / 2);
  writeFile(root + "/images/a2.jpg", jpg);
  std::unique_ptr<Dataset> ds;
  ASSERT_TRUE(openMiniImagenet(root, Split::Train, {3, 8, 8}, ds).ok());
  std::vector<float> px(3 * 64);
  EXPECT_TRUE(ds->loadImage(0, 0, px.data()).ok());
  EXPECT_ERROR_MENTIONS(ds->loadImage(0, 1, px.data()), "a2.jpg");
}

TEST(EpisodeSynthetic, TooFewImagesOrClassesNamesTheClass) {
  std::string root = makeMini("filename,label\na1.jpg,nA\na2.jpg,nA\n"
                              "b1.jpg,nB\n");
  std::unique_ptr<Dataset> ds;
  ASSERT_TRUE(openMiniImagenet(root, Split::Train, {3, 8, 8}, ds).ok());
  Episode ep;
  Status s = sampleEpisode(*ds, {2, 1, 1}, 7, ep);
  EXPECT_ERROR_MENTIONS(s, "class 'nB' has 1 images");
  EXPECT_ERROR_MENTIONS(s, "shots + queries = 2");
  EXPECT_ERROR_MENTIONS(sampleEpisode(*ds, {3, 1, 0}, 7, ep), "ways=3");
  EXPECT_ERROR_MENTIONS(sampleEpisode(*ds, {2, 0, 1}, 7, ep), "shots=0");
  s = sampleEpisode(*ds, {2, 1, 0}, 7, ep);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ep.queryImages.shape, (lopt::Shape{0, 3, 8, 8}));
}

//===----------------------------------------------------------------------===//
// Real data (skipped when absent)
//===----------------------------------------------------------------------===//

const std::string kShared = LOPT_SHARED_DATA_DIR;
const std::string kOmniglot = kShared + "/omniglot";
const std::string kMini = kShared + "/mini-imagenet";
const std::string kFashion = "/usr/share/datasets/fashion-mnist";

#define REQUIRE_DIR(dir)                                                       \
  do {                                                                         \
    if (!isDirectory(dir))                                                     \
      GTEST_SKIP() << (dir) << " not found; real-data test skipped";           \
  } while (0)

size_t countLines(const std::string &path) {
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line))
    n += !line.empty();
  return n;
}

TEST(OmniglotReal, VinyalsSplitSizesAndDisjointness) {
  REQUIRE_DIR(kOmniglot);
  std::set<std::string> characters[3];
  const size_t expectedCharacters[3] = {1028, 172, 423};
  Split splits[3] = {Split::Train, Split::Val, Split::Test};
  for (int k = 0; k < 3; ++k) {
    std::unique_ptr<Dataset> ds;
    Status s = openOmniglot(kOmniglot, splits[k], {1, 28, 28}, ds);
    ASSERT_TRUE(s.ok()) << s.message();
    size_t lines = countLines(kOmniglot + "/splits/vinyals/" +
                              splitName(splits[k]) + ".txt");
    EXPECT_EQ(ds->numClasses(), lines);
    EXPECT_EQ(ds->numClasses(), 4 * expectedCharacters[k]) << ds->describe();
    for (size_t c = 0; c < ds->numClasses(); ++c) {
      ASSERT_EQ(ds->numImages(c), 20u) << ds->className(c);
      const std::string &name = ds->className(c);
      characters[k].insert(name.substr(0, name.rfind('/')));
    }
    EXPECT_EQ(characters[k].size(), expectedCharacters[k]);
  }
  // Disjoint characters imply disjoint class names.
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (const std::string &ch : characters[a])
        ASSERT_EQ(characters[b].count(ch), 0u) << ch;
}

TEST(OmniglotReal, EpisodesAreShapedSeededAndInRange) {
  REQUIRE_DIR(kOmniglot);
  std::unique_ptr<Dataset> ds;
  Status s = openDataset(kOmniglot, Split::Train, {1, 28, 28}, ds);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_NE(
      ds->describe().find("Omniglot (Vinyals split 'train', 4112 classes"),
      std::string::npos)
      << ds->describe();

  EpisodeSpec spec = {5, 1, 15};
  Episode a, b, c;
  ASSERT_TRUE(sampleEpisode(*ds, spec, 42, a).ok());
  ASSERT_TRUE(sampleEpisode(*ds, spec, 42, b).ok());
  ASSERT_TRUE(sampleEpisode(*ds, spec, 43, c).ok());
  EXPECT_EQ(a.supportImages.shape, (lopt::Shape{5, 1, 28, 28}));
  EXPECT_EQ(a.queryImages.shape, (lopt::Shape{75, 1, 28, 28}));
  EXPECT_EQ(a.supportLabels.shape, (lopt::Shape{5}));
  EXPECT_EQ(a.queryLabels.shape, (lopt::Shape{75}));
  ASSERT_EQ(a.classNames.size(), 5u);
  EXPECT_EQ(
      std::set<std::string>(a.classNames.begin(), a.classNames.end()).size(),
      5u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(a.supportLabels[i], i);
  for (int i = 0; i < 75; ++i)
    EXPECT_EQ(a.queryLabels[i], i / 15); // class-major
  float lo = 1, hi = 0;
  double sum = 0;
  for (float v : a.queryImages.data) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  EXPECT_GE(lo, 0.0f);
  EXPECT_LE(hi, 1.0f);
  EXPECT_GT(hi, 0.5f); // some ink
  double mean = sum / a.queryImages.data.size();
  EXPECT_GT(mean, 0.02); // ink is a minority of the paper
  EXPECT_LT(mean, 0.5);

  EXPECT_EQ(a.classNames, b.classNames);
  EXPECT_EQ(a.supportImages.data, b.supportImages.data);
  EXPECT_EQ(a.queryImages.data, b.queryImages.data);
  EXPECT_NE(a.classNames, c.classNames);
}

TEST(OmniglotReal, RotatedClassesAreRotatedImages) {
  REQUIRE_DIR(kOmniglot);
  std::unique_ptr<Dataset> ds;
  ASSERT_TRUE(openOmniglot(kOmniglot, Split::Val, {1, 28, 28}, ds).ok());
  // Classes come in split-file order: rot000, rot090, rot180, rot270 of the
  // same character.
  ASSERT_NE(ds->className(0).find("/rot000"), std::string::npos);
  ASSERT_NE(ds->className(1).find("/rot090"), std::string::npos);
  FloatImage up(1, 28, 28), turned(1, 28, 28);
  ASSERT_TRUE(ds->loadImage(0, 3, up.data.data()).ok());
  ASSERT_TRUE(ds->loadImage(1, 3, turned.data.data()).ok());
  FloatImage expect = rotate90(up, 1);
  for (size_t i = 0; i < expect.data.size(); ++i)
    ASSERT_NEAR(expect.data[i], turned.data[i], 1e-5f) << i;
}

TEST(MiniImagenetReal, RaviSubsetSplits) {
  REQUIRE_DIR(kMini);
  const size_t classes[3] = {64, 16, 20};
  Split splits[3] = {Split::Train, Split::Val, Split::Test};
  std::set<std::string> seen;
  for (int k = 0; k < 3; ++k) {
    std::unique_ptr<Dataset> ds;
    Status s = openMiniImagenet(kMini, splits[k], {3, 84, 84}, ds);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(ds->numClasses(), classes[k]);
    for (size_t c = 0; c < ds->numClasses(); ++c) {
      EXPECT_EQ(ds->numImages(c), 100u);
      EXPECT_TRUE(seen.insert(ds->className(c)).second) << ds->className(c);
    }
  }
  std::unique_ptr<Dataset> ds;
  ASSERT_TRUE(openDataset(kMini, Split::Train, {3, 84, 84}, ds).ok());
  EXPECT_EQ(ds->className(0), "n01532829"); // first row of train.csv
  Episode ep;
  Status s = sampleEpisode(*ds, {5, 5, 15}, 1, ep);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ep.supportImages.shape, (lopt::Shape{25, 3, 84, 84}));
  EXPECT_EQ(ep.queryImages.shape, (lopt::Shape{75, 3, 84, 84}));
  float lo = 1, hi = 0;
  for (float v : ep.supportImages.data) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, 0.0f);
  EXPECT_LE(hi, 1.0f);
  EXPECT_GT(hi - lo, 0.3f);
  for (int i = 0; i < 25; ++i)
    EXPECT_EQ(ep.supportLabels[i], i / 5);
}

TEST(FashionMnistReal, FiveFiveClassSplit) {
  REQUIRE_DIR(kFashion);
  std::unique_ptr<Dataset> train, val, test;
  Status s = openDataset(kFashion, Split::Train, {1, 28, 28}, train);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(openFashionMnist(kFashion, Split::Val, {1, 28, 28}, val).ok());
  ASSERT_TRUE(openFashionMnist(kFashion, Split::Test, {1, 28, 28}, test).ok());
  ASSERT_EQ(train->numClasses(), 5u);
  ASSERT_EQ(val->numClasses(), 5u);
  ASSERT_EQ(test->numClasses(), 5u);
  const char *names[10] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                           "Coat",        "Sandal",    "Shirt",    "Sneaker",
                           "Bag",         "Ankle boot"};
  for (size_t c = 0; c < 5; ++c) {
    EXPECT_EQ(train->className(c), names[c]);
    EXPECT_EQ(val->className(c), names[c + 5]);
    EXPECT_EQ(test->className(c), names[c + 5]);
    EXPECT_EQ(train->numImages(c), 6000u);
    EXPECT_EQ(val->numImages(c), 500u);
    EXPECT_EQ(test->numImages(c), 500u);
  }
  // Val and test share classes but not images.
  std::vector<float> a(784), b(784);
  ASSERT_TRUE(val->loadImage(0, 0, a.data()).ok());
  ASSERT_TRUE(test->loadImage(0, 0, b.data()).ok());
  EXPECT_NE(a, b);
  Episode ep;
  ASSERT_TRUE(sampleEpisode(*val, {5, 5, 10}, 3, ep).ok());
  EXPECT_EQ(ep.supportImages.shape, (lopt::Shape{25, 1, 28, 28}));
  float hi = 0;
  for (float v : ep.queryImages.data) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
    hi = std::max(hi, v);
  }
  EXPECT_GT(hi, 0.5f);
}

} // namespace
