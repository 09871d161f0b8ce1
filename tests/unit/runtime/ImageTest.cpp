//===- ImageTest.cpp - PNG/JPEG decoding and image transforms
//--------------===//

#include "runtime/Image.h"

#include <png.h>

#include <gtest/gtest.h>

#include <array>
#include <cmath>

namespace lopt::data::testing {
// From TestSupport.cpp.
std::vector<uint8_t>
encodePng(int width, int height, int bitDepth, int colorType,
          const std::vector<uint16_t> &samples,
          const std::vector<std::array<uint8_t, 3>> &palette);
std::vector<uint8_t> encodeJpeg(int width, int height, int components,
                                const std::vector<uint8_t> &samples,
                                int quality);
} // namespace lopt::data::testing

using namespace lopt::data;
using namespace lopt::data::testing;

namespace {

FloatImage ramp(int c, int h, int w) {
  FloatImage img(c, h, w);
  for (size_t i = 0; i < img.data.size(); ++i)
    img.data[i] = float(i) / float(img.data.size());
  return img;
}

TEST(ImageTest, DecodesOneBitGreyPng) {
  // Omniglot's format: 1-bit grey. Checkerboard of 5x3.
  std::vector<uint16_t> samples;
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x)
      samples.push_back((x + y) % 2);
  auto png = encodePng(5, 3, 1, PNG_COLOR_TYPE_GRAY, samples, {});
  FloatImage img;
  Status s = decodePng(png.data(), png.size(), "check.png", img);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(img.channels, 1);
  ASSERT_EQ(img.height, 3);
  ASSERT_EQ(img.width, 5);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x)
      EXPECT_EQ(img.at(0, y, x), float((x + y) % 2)) << y << "," << x;
}

TEST(ImageTest, DecodesPalettePngAsRgb) {
  auto png = encodePng(2, 1, 8, PNG_COLOR_TYPE_PALETTE, {0, 1},
                       {{{255, 0, 0}}, {{0, 0, 255}}});
  FloatImage img;
  Status s = decodeImage(png.data(), png.size(), "pal.png", img);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(img.channels, 3);
  EXPECT_EQ(img.at(0, 0, 0), 1.0f);
  EXPECT_EQ(img.at(2, 0, 0), 0.0f);
  EXPECT_EQ(img.at(0, 0, 1), 0.0f);
  EXPECT_EQ(img.at(2, 0, 1), 1.0f);
}

TEST(ImageTest, RgbaAlphaCompositesOntoWhite) {
  // Pixel 0: opaque black; pixel 1: fully transparent black -> white.
  auto png = encodePng(2, 1, 8, PNG_COLOR_TYPE_RGB_ALPHA,
                       {0, 0, 0, 255, 0, 0, 0, 0}, {});
  FloatImage img;
  Status s = decodePng(png.data(), png.size(), "rgba.png", img);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(img.channels, 3);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(img.at(c, 0, 0), 0.0f);
    EXPECT_EQ(img.at(c, 0, 1), 1.0f);
  }
}

TEST(ImageTest, DecodesSixteenBitGreyPng) {
  auto png = encodePng(2, 1, 16, PNG_COLOR_TYPE_GRAY, {0, 65535}, {});
  FloatImage img;
  Status s = decodePng(png.data(), png.size(), "g16.png", img);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(img.at(0, 0, 0), 0.0f);
  EXPECT_EQ(img.at(0, 0, 1), 1.0f);
}

TEST(ImageTest, TruncatedPngIsAnErrorNamingTheFile) {
  std::vector<uint16_t> samples(64 * 64);
  uint32_t lcg = 1;
  for (uint16_t &v : samples) // pseudo-random, so IDAT is large
    v = uint16_t((lcg = lcg * 1664525u + 1013904223u) >> 24);
  auto png = encodePng(64, 64, 8, PNG_COLOR_TYPE_GRAY, samples, {});
  ASSERT_GT(png.size(), 4096u);
  // The last cut removes the final IDAT CRC. (Losing only the 12-byte IEND
  // trailer after complete pixel data is accepted, as libpng does.)
  for (size_t keep :
       {size_t(4), size_t(20), size_t(60), png.size() / 2, png.size() - 13}) {
    std::vector<uint8_t> cut(png.begin(), png.begin() + keep);
    FloatImage img;
    Status s = decodeImage(cut.data(), cut.size(), "cut.png", img);
    ASSERT_FALSE(s.ok()) << "kept " << keep << " bytes";
    EXPECT_NE(s.message().find("cut.png"), std::string::npos) << s.message();
  }
}

TEST(ImageTest, CorruptPngCrcIsAnError) {
  auto png = encodePng(8, 8, 8, PNG_COLOR_TYPE_GRAY,
                       std::vector<uint16_t>(64, 200), {});
  png[png.size() / 2] ^= 0x55; // inside IDAT: CRC or inflate fails
  FloatImage img;
  Status s = decodePng(png.data(), png.size(), "flip.png", img);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("flip.png"), std::string::npos) << s.message();
}

TEST(ImageTest, JpegRoundTripIsClose) {
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 16 * 16; ++i) {
    rgb.push_back(200);
    rgb.push_back(100);
    rgb.push_back(50);
  }
  auto jpg = encodeJpeg(16, 16, 3, rgb, 100);
  FloatImage img;
  Status s = decodeImage(jpg.data(), jpg.size(), "c.jpg", img);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(img.channels, 3);
  ASSERT_EQ(img.height, 16);
  EXPECT_NEAR(img.at(0, 5, 5), 200 / 255.0f, 3 / 255.0f);
  EXPECT_NEAR(img.at(1, 5, 5), 100 / 255.0f, 3 / 255.0f);
  EXPECT_NEAR(img.at(2, 5, 5), 50 / 255.0f, 3 / 255.0f);
}

TEST(ImageTest, GreyJpegHasOneChannel) {
  auto jpg = encodeJpeg(8, 8, 1, std::vector<uint8_t>(64, 128), 95);
  FloatImage img;
  Status s = decodeJpeg(jpg.data(), jpg.size(), "g.jpg", img);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(img.channels, 1);
  EXPECT_NEAR(img.at(0, 3, 3), 128 / 255.0f, 2 / 255.0f);
}

TEST(ImageTest, TruncatedOrGarbageJpegIsAnError) {
  std::vector<uint8_t> rgb(32 * 32 * 3);
  for (size_t i = 0; i < rgb.size(); ++i)
    rgb[i] = uint8_t(i * 31);
  auto jpg = encodeJpeg(32, 32, 3, rgb, 90);
  for (size_t keep : {size_t(3), size_t(30), jpg.size() / 2, jpg.size() - 2}) {
    std::vector<uint8_t> cut(jpg.begin(), jpg.begin() + keep);
    FloatImage img;
    Status s = decodeJpeg(cut.data(), cut.size(), "cut.jpg", img);
    ASSERT_FALSE(s.ok()) << "kept " << keep << " bytes";
    EXPECT_NE(s.message().find("cut.jpg"), std::string::npos) << s.message();
  }
  std::vector<uint8_t> junk = {0xFF, 0xD8, 0xFF, 0x00, 0x13, 0x37, 0x42};
  FloatImage img;
  Status s = decodeJpeg(junk.data(), junk.size(), "junk.jpg", img);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("junk.jpg"), std::string::npos) << s.message();
}

TEST(ImageTest, MutatedInputsNeverCrash) {
  // Cheap fuzzing: random byte flips and cuts of valid files must decode or
  // fail with a message, never abort (run under ASan to check memory too).
  std::vector<uint16_t> grey(24 * 24);
  std::vector<uint8_t> rgb(24 * 24 * 3);
  uint32_t lcg = 7;
  auto next = [&] { return (lcg = lcg * 1664525u + 1013904223u) >> 8; };
  for (auto &v : grey)
    v = uint16_t(next() % 256);
  for (auto &v : rgb)
    v = uint8_t(next());
  std::vector<std::vector<uint8_t>> seeds = {
      encodePng(24, 24, 8, PNG_COLOR_TYPE_GRAY, grey, {}),
      encodeJpeg(24, 24, 3, rgb, 80)};
  for (const auto &seed : seeds)
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> bytes = seed;
      int flips = 1 + int(next() % 4);
      for (int f = 0; f < flips; ++f)
        bytes[2 + next() % (bytes.size() - 2)] = uint8_t(next());
      if (trial % 3 == 0)
        bytes.resize(next() % bytes.size());
      FloatImage img;
      Status s = decodeImage(bytes.data(), bytes.size(), "fuzz.img", img);
      if (!s.ok())
        EXPECT_NE(s.message().find("fuzz.img"), std::string::npos);
      else
        EXPECT_EQ(img.data.size(),
                  size_t(img.channels) * img.height * img.width);
    }
}

TEST(ImageTest, UnknownSignatureIsAnError) {
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
  FloatImage img;
  Status s = decodeImage(text.data(), text.size(), "hello.txt", img);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("hello.txt"), std::string::npos);
  s = decodeImage(nullptr, 0, "empty.png", img);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("empty.png"), std::string::npos);
}

TEST(ImageTest, RotationIsCounterClockwise) {
  // 2x3 image:   a b c        90 ccw:  c f       180:  f e d
  //              d e f                 b e             c b a
  //                                    a d
  FloatImage img(1, 2, 3);
  float v[6] = {1, 2, 3, 4, 5, 6}; // a..f
  std::copy(v, v + 6, img.data.begin());

  FloatImage r90 = rotate90(img, 1);
  ASSERT_EQ(r90.height, 3);
  ASSERT_EQ(r90.width, 2);
  EXPECT_EQ(r90.data, (std::vector<float>{3, 6, 2, 5, 1, 4}));

  FloatImage r180 = rotate90(img, 2);
  EXPECT_EQ(r180.data, (std::vector<float>{6, 5, 4, 3, 2, 1}));

  FloatImage r270 = rotate90(img, 3);
  ASSERT_EQ(r270.height, 3);
  EXPECT_EQ(r270.data, (std::vector<float>{4, 1, 5, 2, 6, 3}));

  EXPECT_EQ(rotate90(img, -1).data, r270.data);
  EXPECT_EQ(rotate90(r90, 1).data, r180.data);
  EXPECT_EQ(rotate90(img, 4).data, img.data);
}

TEST(ImageTest, RotationKeepsChannelsSeparate) {
  FloatImage img = ramp(3, 4, 5);
  FloatImage back = rotate90(rotate90(img, 1), 3);
  EXPECT_EQ(back.data, img.data);
  EXPECT_EQ(back.height, 4);
  EXPECT_EQ(back.width, 5);
}

TEST(ImageTest, ResizeOfConstantImageStaysConstant) {
  for (auto [h, w, oh, ow] : std::vector<std::array<int, 4>>{{105, 105, 28, 28},
                                                             {84, 84, 28, 28},
                                                             {5, 7, 13, 11},
                                                             {3, 3, 3, 1}}) {
    FloatImage img(2, h, w, 0.7f);
    FloatImage out = resizeArea(img, oh, ow);
    ASSERT_EQ(out.height, oh);
    ASSERT_EQ(out.width, ow);
    for (float x : out.data)
      ASSERT_NEAR(x, 0.7f, 1e-6f) << h << "x" << w << " -> " << oh << "x" << ow;
  }
}

TEST(ImageTest, ResizeIntegerFactorIsBlockMean) {
  FloatImage img(1, 4, 4);
  for (int i = 0; i < 16; ++i)
    img.data[i] = float(i);
  FloatImage out = resizeArea(img, 2, 2);
  // Top-left block {0,1,4,5} -> 2.5, and so on.
  EXPECT_FLOAT_EQ(out.at(0, 0, 0), 1.0f); // clamped to [0,1]
  FloatImage small(1, 4, 4);
  for (int i = 0; i < 16; ++i)
    small.data[i] = float(i) / 16.0f;
  out = resizeArea(small, 2, 2);
  EXPECT_FLOAT_EQ(out.at(0, 0, 0), 2.5f / 16);
  EXPECT_FLOAT_EQ(out.at(0, 0, 1), 4.5f / 16);
  EXPECT_FLOAT_EQ(out.at(0, 1, 0), 10.5f / 16);
  EXPECT_FLOAT_EQ(out.at(0, 1, 1), 12.5f / 16);
}

TEST(ImageTest, ResizePreservesMeanAndCommutesWithRotation) {
  // Area averaging with equal-sized output cells preserves the mean; and as
  // the box filter is symmetric, resize(rotate(x)) == rotate(resize(x)).
  FloatImage img(1, 105, 105);
  for (size_t i = 0; i < img.data.size(); ++i)
    img.data[i] = float((i * 2654435761u) % 1000) / 1000.0f;
  FloatImage out = resizeArea(img, 28, 28);
  double inMean = 0, outMean = 0;
  for (float x : img.data)
    inMean += x;
  for (float x : out.data)
    outMean += x;
  EXPECT_NEAR(inMean / img.data.size(), outMean / out.data.size(), 1e-5);
  FloatImage a = resizeArea(rotate90(img, 1), 28, 28);
  FloatImage b = rotate90(out, 1);
  for (size_t i = 0; i < a.data.size(); ++i)
    ASSERT_NEAR(a.data[i], b.data[i], 1e-5f);
}

TEST(ImageTest, ChannelConversion) {
  FloatImage grey(1, 1, 2);
  grey.data = {0.25f, 1.0f};
  FloatImage rgb = convertChannels(grey, 3);
  EXPECT_EQ(rgb.data, (std::vector<float>{0.25f, 1, 0.25f, 1, 0.25f, 1}));
  FloatImage back = convertChannels(rgb, 1);
  EXPECT_NEAR(back.data[0], 0.25f, 1e-6f);
  EXPECT_NEAR(back.data[1], 1.0f, 1e-6f);

  FloatImage red(3, 1, 1);
  red.data = {1, 0, 0};
  EXPECT_NEAR(convertChannels(red, 1).data[0], 0.299f, 1e-6f);
}

TEST(ImageTest, ConvertToSpecRejectsBadSpec) {
  FloatImage img(1, 4, 4, 0.5f);
  std::vector<float> out(4 * 4 * 4);
  Status s = convertToSpec(img, {4, 4, 4}, "x.png", out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("x.png"), std::string::npos);
  s = convertToSpec(img, {3, 2, 2}, "x.png", out.data());
  ASSERT_TRUE(s.ok()) << s.message();
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(out[i], 0.5f, 1e-6f);
}

TEST(ImageTest, ReadFileNamesMissingPath) {
  std::vector<uint8_t> bytes;
  Status s = readFile("/nonexistent/lopt/file.png", bytes);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/lopt/file.png"), std::string::npos);
}

} // namespace
