//===- Image.h - image decoding and resampling for the data layer -*- C++
//-*-===//
//
// PNG (libpng) and JPEG (libjpeg) decoding from memory into a float image,
// plus the few transforms the few-shot benchmarks need: rotation by quarter
// turns, area-average resize and grey<->RGB conversion. Decoders never abort
// on corrupt input: libpng's simplified API and a setjmp-based libjpeg error
// manager turn every failure into a Status.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_IMAGE_H
#define LOPT_RUNTIME_IMAGE_H

#include "runtime/Dataset.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lopt::data {

/// A planar (CHW) float image, values nominally in [0,1].
struct FloatImage {
  int channels = 0, height = 0, width = 0;
  std::vector<float> data; // channels * height * width, CHW

  FloatImage() = default;
  FloatImage(int c, int h, int w, float fill = 0.0f)
      : channels(c), height(h), width(w), data(size_t(c) * h * w, fill) {}

  float &at(int c, int y, int x) {
    return data[(size_t(c) * height + y) * width + x];
  }
  float at(int c, int y, int x) const {
    return data[(size_t(c) * height + y) * width + x];
  }
};

/// Decodes a PNG of any bit depth and colour type (1-bit grey, palette,
/// grey+alpha, RGB, RGBA, 16-bit). Colour images become 3 channels, grey ones
/// 1; alpha is composited onto white. `name` is used in error messages.
Status decodePng(const uint8_t *bytes, size_t size, const std::string &name,
                 FloatImage &out);

/// Decodes a baseline or progressive JPEG (grey -> 1 channel; YCbCr, RGB and
/// CMYK -> 3 channels). Corrupt or truncated data is an error, not a warning.
Status decodeJpeg(const uint8_t *bytes, size_t size, const std::string &name,
                  FloatImage &out);

/// Dispatches on the signature bytes (PNG or JPEG).
Status decodeImage(const uint8_t *bytes, size_t size, const std::string &name,
                   FloatImage &out);

/// Rotates counter-clockwise by quarterTurns * 90 degrees (any integer,
/// negative = clockwise). A 90-degree turn swaps height and width.
FloatImage rotate90(const FloatImage &img, int quarterTurns);

/// Area-average (box filter) resize to any size: each output pixel is the
/// mean of the source area it covers, with fractional pixel weights.
/// Constant images stay constant; integer downscales are plain block means.
FloatImage resizeArea(const FloatImage &img, int height, int width);

/// 1 -> 3 replicates grey; 3 -> 1 uses Rec.601 luma (0.299, 0.587, 0.114);
/// same count is a copy. Only 1 and 3 channels are supported.
FloatImage convertChannels(const FloatImage &img, int channels);

/// Converts channels, then resizes to spec, and writes CHW floats to out.
/// `name` is used if the image or spec is unusable.
Status convertToSpec(const FloatImage &img, const ImageSpec &spec,
                     const std::string &name, float *out);

//===----------------------------------------------------------------------===//
// Small file helpers shared by the loaders (POSIX; no std::filesystem because
// its throwing overloads do not mix with -fno-exceptions).
//===----------------------------------------------------------------------===//

/// Reads a whole file; the error names the path and the OS reason.
Status readFile(const std::string &path, std::vector<uint8_t> &out);
bool isDirectory(const std::string &path);
bool isRegularFile(const std::string &path);
/// Joins with exactly one '/' between the parts.
std::string joinPath(const std::string &a, const std::string &b);

} // namespace lopt::data

#endif // LOPT_RUNTIME_IMAGE_H
