//===- TestSupport.cpp - synthetic files for the data-layer tests
//----------===//
//
// Writers for tiny PNG, JPEG, zip and gzip files, so that every decoder and
// loader path (including the malformed ones) is tested without real data.
// The other test files declare what they use from here themselves: this
// directory deliberately holds only .cpp files.
//
//===----------------------------------------------------------------------===//

#include <png.h>
#include <zip.h>
#include <zlib.h>

#include <cstdio>
#include <jpeglib.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ftw.h>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace lopt::data::testing {

namespace {
void appendPngBytes(png_structp png, png_bytep data, png_size_t length) {
  auto *out = static_cast<std::vector<uint8_t> *>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}
void flushNothing(png_structp) {}
} // namespace

/// Encodes a PNG. `samples` holds one value per sample, row-major and
/// interleaved (bit depths below 8 are packed by libpng; 16-bit values are
/// written big-endian). For PNG_COLOR_TYPE_PALETTE the samples are indices
/// into `palette`.
std::vector<uint8_t>
encodePng(int width, int height, int bitDepth, int colorType,
          const std::vector<uint16_t> &samples,
          const std::vector<std::array<uint8_t, 3>> &palette) {
  std::vector<uint8_t> out;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::abort(); // a test bug, not a tested path
  }
  png_set_write_fn(png, &out, appendPngBytes, flushNothing);
  png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), bitDepth,
               colorType, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> pal;
  for (const auto &p : palette)
    pal.push_back({p[0], p[1], p[2]});
  if (colorType == PNG_COLOR_TYPE_PALETTE)
    png_set_PLTE(png, info, pal.data(), int(pal.size()));
  png_write_info(png, info);
  if (bitDepth < 8)
    png_set_packing(png);
  int channels = colorType == PNG_COLOR_TYPE_RGB          ? 3
                 : colorType == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
                 : colorType == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                          : 1;
  size_t perRow = size_t(width) * channels;
  std::vector<uint8_t> row(perRow * (bitDepth == 16 ? 2 : 1));
  for (int y = 0; y < height; ++y) {
    for (size_t i = 0; i < perRow; ++i) {
      uint16_t v = samples[y * perRow + i];
      if (bitDepth == 16) {
        row[2 * i] = uint8_t(v >> 8);
        row[2 * i + 1] = uint8_t(v & 0xFF);
      } else {
        row[i] = uint8_t(v);
      }
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

/// Encodes a baseline JPEG from interleaved 8-bit samples (1 or 3 components).
std::vector<uint8_t> encodeJpeg(int width, int height, int components,
                                const std::vector<uint8_t> &samples,
                                int quality) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char *buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = JDIMENSION(width);
  cinfo.image_height = JDIMENSION(height);
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(
        samples.data() + size_t(cinfo.next_scanline) * width * components);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

namespace {
std::vector<std::string> &tempDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}
int removeEntry(const char *path, const struct stat *, int, struct FTW *) {
  ::remove(path);
  return 0;
}
// Runs at exit so that repeated test runs do not litter $TMPDIR.
void removeTempDirs() {
  for (const std::string &dir : tempDirs())
    nftw(dir.c_str(), removeEntry, 16, FTW_DEPTH | FTW_PHYS);
}
} // namespace

/// A fresh directory under $TMPDIR (or /tmp), removed when the test exits.
std::string makeTempDir() {
  const char *base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/lopt-data-test-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data()))
    std::abort();
  if (tempDirs().empty())
    std::atexit(removeTempDirs);
  tempDirs().push_back(buf.data());
  return buf.data();
}

/// mkdir -p.
void makeDirs(const std::string &path) {
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/')
      ::mkdir(path.substr(0, i).c_str(), 0755);
}

void writeFile(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    std::abort();
  if (!bytes.empty())
    std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

void writeText(const std::string &path, const std::string &text) {
  writeFile(path, std::vector<uint8_t>(text.begin(), text.end()));
}

/// Writes a deflated zip archive holding `entries` (name, contents).
bool writeZip(
    const std::string &path,
    const std::vector<std::pair<std::string, std::vector<uint8_t>>> &entries) {
  int code = 0;
  zip_t *zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!zip)
    return false;
  for (const auto &[name, bytes] : entries) {
    if (!name.empty() && name.back() == '/') {
      if (zip_dir_add(zip, name.c_str(), ZIP_FL_ENC_UTF_8) < 0) {
        zip_discard(zip);
        return false;
      }
      continue;
    }
    // The data must stay valid until zip_close, so libzip gets a malloc'ed
    // copy to free (freep = 1); empty files need no buffer.
    void *copy = nullptr;
    if (!bytes.empty()) {
      copy = std::malloc(bytes.size());
      std::memcpy(copy, bytes.data(), bytes.size());
    }
    zip_source_t *src =
        zip_source_buffer(zip, copy, bytes.size(), copy != nullptr);
    if (!src || zip_file_add(zip, name.c_str(), src, ZIP_FL_ENC_UTF_8) < 0) {
      zip_discard(zip);
      return false;
    }
  }
  return zip_close(zip) == 0;
}

/// Gzips `bytes` into `path`.
void writeGz(const std::string &path, const std::vector<uint8_t> &bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f)
    std::abort();
  if (!bytes.empty())
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

} // namespace lopt::data::testing
