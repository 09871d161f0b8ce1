//===- Image.cpp - PNG/JPEG decoding, rotation, resize
//---------------------===//
//
// Decoders for the benchmark images and the transforms applied to them. The
// decoders are written so that no input, however corrupt, aborts the process.
//
//===----------------------------------------------------------------------===//

#include "runtime/Image.h"

#include <png.h>

// jpeglib.h needs size_t and FILE declared before it.
#include <cstdio>
#include <jpeglib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <sys/stat.h>

namespace lopt::data {

namespace {
// Bounds the allocation made for a decoded image: a corrupt header can claim
// 65535 x 65535 pixels, which must be an error rather than a bad_alloc abort
// (there are no exceptions to catch it).
constexpr uint64_t kMaxPixels = uint64_t(1) << 26;

Status checkDimensions(const std::string &name, uint64_t width,
                       uint64_t height) {
  if (width == 0 || height == 0)
    return Status::error(name + ": image has zero width or height");
  if (width * height > kMaxPixels)
    return Status::error(name + ": image too large (" + std::to_string(width) +
                         "x" + std::to_string(height) + " pixels)");
  return Status::success();
}
} // namespace

//===----------------------------------------------------------------------===//
// PNG
//===----------------------------------------------------------------------===//

Status decodePng(const uint8_t *bytes, size_t size, const std::string &name,
                 FloatImage &out) {
  // The simplified API handles every bit depth and colour type (1-bit grey,
  // palette, tRNS, 16-bit) and reports errors through image.message instead
  // of longjmp-ing through our frames. Truncation anywhere before the end of
  // the pixel data is an error; a missing IEND trailer alone is not, as the
  // image is complete (libpng's own choice).
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (size < 8 || png_sig_cmp(bytes, 0, 8) != 0)
    return Status::error(name + ": not a PNG file (bad signature)");
  if (!png_image_begin_read_from_memory(&image, bytes, size))
    return Status::error(name + ": corrupt PNG (" + image.message + ")");

  if (Status s = checkDimensions(name, image.width, image.height); !s) {
    png_image_free(&image);
    return s;
  }
  bool color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  image.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  // Transparent pixels become white paper, matching how viewers show them.
  png_color white = {255, 255, 255};
  if (!png_image_finish_read(&image, &white, pixels.data(), 0, nullptr)) {
    std::string why = image.message;
    png_image_free(&image);
    return Status::error(name + ": corrupt or truncated PNG (" + why + ")");
  }

  int channels = color ? 3 : 1;
  int height = int(image.height), width = int(image.width);
  out = FloatImage(channels, height, width);
  // Interleaved HWC bytes -> planar CHW floats.
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        out.at(c, y, x) =
            pixels[(size_t(y) * width + x) * channels + c] * (1.0f / 255.0f);
  return Status::success();
}

//===----------------------------------------------------------------------===//
// JPEG
//===----------------------------------------------------------------------===//

namespace {
// libjpeg's default error handler calls exit(). Ours longjmps back to the
// decoder with the formatted message.
struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpegErrorExit(j_common_ptr cinfo) {
  auto *err = reinterpret_cast<JpegErrorManager *>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Level -1 is a corrupt-data warning (e.g. "Premature end of JPEG file"):
// libjpeg would pad the image with grey and carry on, which silently trains
// on garbage, so it is an error here. Trace messages (level >= 0) are dropped.
void jpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level < 0)
    jpegErrorExit(cinfo);
}

struct JpegRaw {
  std::vector<uint8_t> pixels; // interleaved, `components` per pixel
  int width = 0, height = 0, components = 0;
  bool cmyk = false;
  bool tooLarge = false;
};

// Everything that can longjmp lives in this function. Only trivially
// destructible locals are declared in it, so the jump skips no destructors;
// `raw` belongs to the caller.
bool decodeJpegRaw(const uint8_t *bytes, size_t size, JpegErrorManager &err,
                   JpegRaw &raw) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpegErrorExit;
  err.pub.emit_message = jpegEmitMessage;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, const_cast<unsigned char *>(bytes),
               static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);

  switch (cinfo.jpeg_color_space) {
  case JCS_GRAYSCALE:
    cinfo.out_color_space = JCS_GRAYSCALE;
    break;
  case JCS_CMYK:
  case JCS_YCCK:
    // libjpeg cannot convert these to RGB; we do it after decoding.
    cinfo.out_color_space = JCS_CMYK;
    raw.cmyk = true;
    break;
  default:
    cinfo.out_color_space = JCS_RGB;
    break;
  }
  jpeg_calc_output_dimensions(&cinfo);
  if (cinfo.output_width == 0 || cinfo.output_height == 0 ||
      uint64_t(cinfo.output_width) * cinfo.output_height > kMaxPixels) {
    raw.tooLarge = true;
    raw.width = int(cinfo.output_width);
    raw.height = int(cinfo.output_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  raw.width = int(cinfo.output_width);
  raw.height = int(cinfo.output_height);
  raw.components = cinfo.output_components;
  raw.pixels.resize(size_t(raw.width) * raw.height * raw.components);
  size_t stride = size_t(raw.width) * raw.components;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = raw.pixels.data() + cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}
} // namespace

Status decodeJpeg(const uint8_t *bytes, size_t size, const std::string &name,
                  FloatImage &out) {
  if (size < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF)
    return Status::error(name + ": not a JPEG file (bad signature)");
  JpegErrorManager err;
  JpegRaw raw;
  if (!decodeJpegRaw(bytes, size, err, raw)) {
    if (raw.tooLarge)
      return checkDimensions(name, uint64_t(raw.width), uint64_t(raw.height));
    return Status::error(name + ": corrupt or truncated JPEG (" +
                         std::string(err.message) + ")");
  }

  int channels = raw.components == 1 ? 1 : 3;
  out = FloatImage(channels, raw.height, raw.width);
  for (int y = 0; y < raw.height; ++y)
    for (int x = 0; x < raw.width; ++x) {
      const uint8_t *p =
          &raw.pixels[(size_t(y) * raw.width + x) * raw.components];
      if (raw.cmyk) {
        // Adobe writes CMYK JPEGs inverted (0 = full ink), which is what
        // libjpeg hands back, so R = C' * K' / 255 and so on.
        float k = p[3] * (1.0f / 255.0f);
        for (int c = 0; c < 3; ++c)
          out.at(c, y, x) = p[c] * (1.0f / 255.0f) * k;
      } else {
        for (int c = 0; c < channels; ++c)
          out.at(c, y, x) = p[c] * (1.0f / 255.0f);
      }
    }
  return Status::success();
}

Status decodeImage(const uint8_t *bytes, size_t size, const std::string &name,
                   FloatImage &out) {
  if (size >= 8 && png_sig_cmp(bytes, 0, 8) == 0)
    return decodePng(bytes, size, name, out);
  if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return decodeJpeg(bytes, size, name, out);
  if (size == 0)
    return Status::error(name + ": empty file, expected a PNG or JPEG image");
  return Status::error(name + ": not a PNG or JPEG image (unknown signature)");
}

//===----------------------------------------------------------------------===//
// Transforms
//===----------------------------------------------------------------------===//

FloatImage rotate90(const FloatImage &img, int quarterTurns) {
  int k = ((quarterTurns % 4) + 4) % 4;
  const int H = img.height, W = img.width;
  if (k == 0)
    return img;
  if (k == 2) {
    FloatImage out(img.channels, H, W);
    for (int c = 0; c < img.channels; ++c)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          out.at(c, y, x) = img.at(c, H - 1 - y, W - 1 - x);
    return out;
  }
  // Quarter turns swap the axes. Counter-clockwise 90 moves the top-right
  // corner to the top-left: out(y, x) = in(x, W-1-y). 270 is the inverse.
  FloatImage out(img.channels, W, H);
  for (int c = 0; c < img.channels; ++c)
    for (int y = 0; y < W; ++y)
      for (int x = 0; x < H; ++x)
        out.at(c, y, x) =
            k == 1 ? img.at(c, x, W - 1 - y) : img.at(c, H - 1 - x, y);
  return out;
}

namespace {
// For one axis, the source taps of every output pixel: the source interval
// [o*s, (o+1)*s) with s = in/out, each source pixel weighted by its overlap,
// normalised so the weights sum to one.
struct Tap {
  int src;
  float weight;
};

std::vector<std::vector<Tap>> areaTaps(int in, int out) {
  std::vector<std::vector<Tap>> taps(out);
  double scale = double(in) / double(out);
  for (int o = 0; o < out; ++o) {
    double begin = o * scale, end = (o + 1) * scale;
    int first = int(std::floor(begin));
    int last = std::min(in, int(std::ceil(end))); // exclusive
    double total = 0;
    for (int i = first; i < last; ++i) {
      double w = std::min(end, double(i + 1)) - std::max(begin, double(i));
      if (w > 1e-12) {
        taps[o].push_back({i, float(w)});
        total += w;
      }
    }
    for (Tap &t : taps[o])
      t.weight = float(t.weight / total);
  }
  return taps;
}
} // namespace

FloatImage resizeArea(const FloatImage &img, int height, int width) {
  if (height == img.height && width == img.width)
    return img;
  const int C = img.channels, H = img.height, W = img.width;
  // Separable: horizontal pass to [C, H, width], then vertical.
  std::vector<std::vector<Tap>> xTaps = areaTaps(W, width);
  std::vector<std::vector<Tap>> yTaps = areaTaps(H, height);
  FloatImage tmp(C, H, width);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < width; ++x) {
        float sum = 0;
        for (const Tap &t : xTaps[x])
          sum += t.weight * img.at(c, y, t.src);
        tmp.at(c, y, x) = sum;
      }
  FloatImage out(C, height, width);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        float sum = 0;
        for (const Tap &t : yTaps[y])
          sum += t.weight * tmp.at(c, t.src, x);
        // Rounding in the weights can push a constant 1.0 to 1.0000001.
        out.at(c, y, x) = std::min(1.0f, std::max(0.0f, sum));
      }
  return out;
}

FloatImage convertChannels(const FloatImage &img, int channels) {
  if (img.channels == channels)
    return img;
  FloatImage out(channels, img.height, img.width);
  size_t plane = size_t(img.height) * img.width;
  if (img.channels == 1 && channels == 3) {
    for (int c = 0; c < 3; ++c)
      std::copy(img.data.begin(), img.data.end(), out.data.begin() + c * plane);
  } else if (img.channels == 3 && channels == 1) {
    for (size_t p = 0; p < plane; ++p)
      out.data[p] = 0.299f * img.data[p] + 0.587f * img.data[plane + p] +
                    0.114f * img.data[2 * plane + p];
  } else {
    // Callers validate channel counts first; keep this total anyway.
    for (int c = 0; c < channels; ++c)
      std::copy(img.data.begin() + std::min(c, img.channels - 1) * plane,
                img.data.begin() + (std::min(c, img.channels - 1) + 1) * plane,
                out.data.begin() + c * plane);
  }
  return out;
}

Status convertToSpec(const FloatImage &img, const ImageSpec &spec,
                     const std::string &name, float *out) {
  if (img.channels != 1 && img.channels != 3)
    return Status::error(name + ": unsupported channel count " +
                         std::to_string(img.channels));
  if (img.height <= 0 || img.width <= 0)
    return Status::error(name + ": empty image");
  if (Status s = checkImageSpec(spec, name); !s)
    return s;
  FloatImage converted =
      resizeArea(convertChannels(img, spec.channels), spec.height, spec.width);
  std::copy(converted.data.begin(), converted.data.end(), out);
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

Status readFile(const std::string &path, std::vector<uint8_t> &out) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status::error(path + ": cannot open (" + std::strerror(errno) + ")");
  out.clear();
  uint8_t buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    out.insert(out.end(), buffer, buffer + n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed)
    return Status::error(path + ": read error");
  return Status::success();
}

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool isRegularFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string joinPath(const std::string &a, const std::string &b) {
  if (a.empty())
    return b;
  if (a.back() == '/')
    return a + b;
  return a + "/" + b;
}

} // namespace lopt::data
