//===- Omniglot.cpp - Omniglot with the Vinyals et al. splits
//--------------===//
//
// Reads the official Omniglot layout (images_background / images_evaluation,
// as folders or as the released .zip archives) and the Vinyals split files.
// A class is one character at one rotation; opening only indexes file names
// (the zip central directories), images are decoded on demand.
//
//===----------------------------------------------------------------------===//

#include "runtime/Dataset.h"
#include "runtime/Image.h"

#include <zip.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <dirent.h>
#include <unordered_map>

namespace lopt::data {

namespace {

// The two halves of the official release. Vinyals' splits mix them: an
// alphabet of any split may live in either.
const char *const kArchiveNames[] = {"images_background", "images_evaluation"};

// Bounds one zip entry's claimed size; an Omniglot PNG is a few hundred bytes.
constexpr zip_uint64_t kMaxEntryBytes = 16u << 20;

struct Source {
  std::string location; // the folder or the .zip file
  zip_t *zip = nullptr; // null for a folder
};

struct ImageRef {
  int source;
  zip_uint64_t zipIndex; // unused for folders
  std::string name;      // zip entry name, or file path for folders
};

struct Character {
  std::vector<ImageRef> images; // sorted by name, so indices are stable
};

struct ClassEntry {
  std::string name; // the split line: Alphabet/characterNN/rotDDD
  size_t character;
  int quarterTurns; // counter-clockwise
};

std::string zipErrorString(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string msg = zip_error_strerror(&error);
  zip_error_fini(&error);
  return msg;
}

// Splits "a/b/c" at '/'.
std::vector<std::string> splitPath(const std::string &s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    parts.push_back(s.substr(start, slash - start));
    if (slash == std::string::npos)
      return parts;
    start = slash + 1;
  }
}

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

class OmniglotDataset : public Dataset {
public:
  OmniglotDataset(std::string root, Split split, ImageSpec spec)
      : Dataset(spec), Root(std::move(root)), TheSplit(split) {}
  ~OmniglotDataset() override {
    for (Source &s : Sources)
      if (s.zip)
        zip_discard(s.zip); // read-only: nothing to write back
  }

  Status open();

  std::string describe() const override {
    std::string from;
    for (const Source &s : Sources)
      from += (from.empty() ? "" : ", ") + s.location;
    return "Omniglot (Vinyals split '" + std::string(splitName(TheSplit)) +
           "', " + std::to_string(Classes.size()) + " classes, from " + from +
           ")";
  }
  size_t numClasses() const override { return Classes.size(); }
  const std::string &className(size_t c) const override {
    return Classes[c].name;
  }
  size_t numImages(size_t c) const override {
    return Characters[Classes[c].character].images.size();
  }
  Status loadImage(size_t c, size_t i, float *out) override;

private:
  Status openSources();
  Status indexZip(int source);
  /// Finds (or lists, for folders) "Alphabet/characterNN"; -1 if absent.
  long findCharacter(const std::string &alphabet, const std::string &character);
  std::string imageName(const ImageRef &ref) const {
    const Source &s = Sources[ref.source];
    return s.zip ? s.location + ":" + ref.name : ref.name;
  }

  std::string Root;
  Split TheSplit;
  std::vector<Source> Sources;
  // "Alphabet/characterNN" -> index into Characters, for every indexed zip
  // entry and every folder character looked up so far.
  std::unordered_map<std::string, size_t> CharacterIndex;
  std::vector<Character> Characters;
  std::vector<ClassEntry> Classes;
  std::vector<uint8_t> Bytes; // reused between loads
};

Status OmniglotDataset::openSources() {
  for (const char *name : kArchiveNames) {
    std::string folder = joinPath(Root, name);
    std::string zipPath = folder + ".zip";
    // Extracted folders win: they are what a user who unzipped has, and
    // reading them avoids inflating.
    if (isDirectory(folder)) {
      Sources.push_back({folder, nullptr});
      continue;
    }
    if (!isRegularFile(zipPath))
      continue;
    int code = 0;
    zip_t *zip = zip_open(zipPath.c_str(), ZIP_RDONLY, &code);
    if (!zip) {
      if (code == ZIP_ER_NOZIP)
        return Status::error(zipPath + ": not a zip archive");
      return Status::error(zipPath + ": cannot open zip archive (" +
                           zipErrorString(code) + ")");
    }
    Sources.push_back({zipPath, zip});
    if (Status s = indexZip(int(Sources.size()) - 1); !s)
      return s;
  }
  if (Sources.empty())
    return Status::error(Root + ": no Omniglot images found; looked for "
                                "images_background/ or images_background.zip "
                                "and images_evaluation/ or "
                                "images_evaluation.zip");
  return Status::success();
}

Status OmniglotDataset::indexZip(int source) {
  zip_t *zip = Sources[source].zip;
  zip_int64_t n = zip_get_num_entries(zip, 0);
  if (n < 0)
    return Status::error(Sources[source].location +
                         ": cannot read the zip directory");
  size_t before = Characters.size();
  for (zip_int64_t e = 0; e < n; ++e) {
    const char *raw = zip_get_name(zip, zip_uint64_t(e), 0);
    if (!raw)
      continue;
    std::string name = raw;
    // Entries are <archive>/<Alphabet>/<characterNN>/<id>_<drawer>.png; skip
    // directories, macOS resource forks and anything else.
    if (!endsWith(name, ".png"))
      continue;
    std::vector<std::string> parts = splitPath(name);
    if (parts.size() != 4 || parts[0] == "__MACOSX" || parts[3][0] == '.')
      continue;
    std::string key = parts[1] + "/" + parts[2];
    auto it = CharacterIndex.find(key);
    size_t ch;
    if (it == CharacterIndex.end()) {
      ch = Characters.size();
      Characters.emplace_back();
      CharacterIndex.emplace(key, ch);
    } else {
      ch = it->second;
    }
    Characters[ch].images.push_back({source, zip_uint64_t(e), name});
  }
  for (size_t c = before; c < Characters.size(); ++c)
    std::sort(
        Characters[c].images.begin(), Characters[c].images.end(),
        [](const ImageRef &a, const ImageRef &b) { return a.name < b.name; });
  if (Characters.size() == before)
    return Status::error(Sources[source].location +
                         ": no '<archive>/<Alphabet>/<characterNN>/*.png' "
                         "entries in this zip archive");
  return Status::success();
}

long OmniglotDataset::findCharacter(const std::string &alphabet,
                                    const std::string &character) {
  std::string key = alphabet + "/" + character;
  auto it = CharacterIndex.find(key);
  if (it != CharacterIndex.end())
    return long(it->second);
  // Not in a zip index: list the character's folder, if any. Only folders
  // named by the split are listed, so opening stays cheap.
  for (size_t s = 0; s < Sources.size(); ++s) {
    if (Sources[s].zip)
      continue;
    std::string dir =
        joinPath(joinPath(Sources[s].location, alphabet), character);
    DIR *d = opendir(dir.c_str());
    if (!d)
      continue;
    Character ch;
    while (dirent *entry = readdir(d)) {
      std::string file = entry->d_name;
      if (file[0] != '.' && endsWith(file, ".png"))
        ch.images.push_back({int(s), 0, joinPath(dir, file)});
    }
    closedir(d);
    if (ch.images.empty())
      continue;
    std::sort(
        ch.images.begin(), ch.images.end(),
        [](const ImageRef &a, const ImageRef &b) { return a.name < b.name; });
    Characters.push_back(std::move(ch));
    CharacterIndex.emplace(key, Characters.size() - 1);
    return long(Characters.size() - 1);
  }
  return -1;
}

Status OmniglotDataset::open() {
  if (Status s = openSources(); !s)
    return s;

  std::string splitFile = joinPath(Root, std::string("splits/vinyals/") +
                                             splitName(TheSplit) + ".txt");
  std::vector<uint8_t> text;
  if (Status s = readFile(splitFile, text); !s)
    return s;

  std::unordered_map<std::string, size_t> seen; // class name -> line
  size_t lineNo = 0, pos = 0;
  while (pos < text.size()) {
    size_t eol = pos;
    while (eol < text.size() && text[eol] != '\n')
      ++eol;
    std::string line(text.begin() + pos, text.begin() + eol);
    pos = eol + 1;
    ++lineNo;
    // Tolerate CRLF files and stray blanks around a name.
    while (!line.empty() && std::isspace((unsigned char)line.back()))
      line.pop_back();
    size_t lead = 0;
    while (lead < line.size() && std::isspace((unsigned char)line[lead]))
      ++lead;
    line.erase(0, lead);
    if (line.empty())
      continue;

    std::string where = splitFile + ":" + std::to_string(lineNo) + ": ";
    std::vector<std::string> parts = splitPath(line);
    int degrees = -1;
    if (parts.size() == 3 && parts[2].size() == 6 &&
        parts[2].compare(0, 3, "rot") == 0 &&
        std::all_of(parts[2].begin() + 3, parts[2].end(),
                    [](char ch) { return ch >= '0' && ch <= '9'; }))
      degrees = std::stoi(parts[2].substr(3));
    if (parts.size() != 3 || parts[0].empty() || parts[1].empty() ||
        (degrees != 0 && degrees != 90 && degrees != 180 && degrees != 270))
      return Status::error(where +
                           "expected 'Alphabet/characterNN/rotDDD' "
                           "with DDD one of 000, 090, 180, 270; got '" +
                           line + "'");
    if (!seen.emplace(line, lineNo).second)
      return Status::error(where + "class '" + line +
                           "' already listed on line " +
                           std::to_string(seen[line]));
    long ch = findCharacter(parts[0], parts[1]);
    if (ch < 0) {
      std::string looked;
      for (const Source &s : Sources)
        looked += (looked.empty() ? "" : " or ") + s.location;
      return Status::error(where + "character '" + parts[0] + "/" + parts[1] +
                           "' not found in " + looked);
    }
    Classes.push_back({line, size_t(ch), degrees / 90});
  }
  if (Classes.empty())
    return Status::error(splitFile + ": no classes listed");
  return Status::success();
}

Status OmniglotDataset::loadImage(size_t c, size_t i, float *out) {
  if (Status s = checkIndex(c, i); !s)
    return s;
  const ClassEntry &cls = Classes[c];
  const ImageRef &ref = Characters[cls.character].images[i];
  const Source &src = Sources[ref.source];
  std::string name = imageName(ref);

  if (src.zip) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(src.zip, ref.zipIndex, 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE))
      return Status::error(name + ": cannot stat zip entry");
    if (st.size > kMaxEntryBytes)
      return Status::error(name + ": zip entry too large (" +
                           std::to_string(st.size) + " bytes)");
    zip_file_t *f = zip_fopen_index(src.zip, ref.zipIndex, 0);
    if (!f)
      return Status::error(name + ": cannot open zip entry (" +
                           std::string(zip_strerror(src.zip)) + ")");
    Bytes.resize(st.size);
    zip_uint64_t got = 0;
    bool failed = false;
    while (got < st.size) {
      zip_int64_t n = zip_fread(f, Bytes.data() + got, st.size - got);
      if (n <= 0) {
        failed = true;
        break;
      }
      got += zip_uint64_t(n);
    }
    std::string why = failed ? zip_file_strerror(f) : "";
    zip_fclose(f);
    if (failed)
      return Status::error(name + ": cannot read zip entry (" +
                           (why.empty() ? std::string("truncated") : why) +
                           ")");
  } else if (Status s = readFile(ref.name, Bytes); !s) {
    return s;
  }

  FloatImage img;
  if (Status s = decodeImage(Bytes.data(), Bytes.size(), name, img); !s)
    return s;
  img = convertChannels(img, 1);
  // Omniglot is black strokes on white paper; learners expect ink = 1.
  for (float &v : img.data)
    v = 1.0f - v;
  img = rotate90(img, cls.quarterTurns);
  return convertToSpec(img, Spec, name, out);
}

} // namespace

Status openOmniglot(const std::string &root, Split split, ImageSpec spec,
                    std::unique_ptr<Dataset> &out) {
  if (Status s = checkImageSpec(spec, "Omniglot at " + root); !s)
    return s;
  if (!isDirectory(root))
    return Status::error(root + ": no such directory (expected the Omniglot "
                                "folder with images_background.zip, "
                                "images_evaluation.zip and splits/vinyals/)");
  auto ds = std::make_unique<OmniglotDataset>(root, split, spec);
  if (Status s = ds->open(); !s)
    return s;
  out = std::move(ds);
  return Status::success();
}

} // namespace lopt::data
