//===- MiniImagenet.cpp - Mini-ImageNet in the Ravi & Larochelle layout
//----===//
//
// Reads <root>/<split>.csv (`filename,label`) and decodes <root>/images/* on
// demand. Opening checks that every listed image exists (one stat each), so
// an incomplete copy fails up front with the csv line, not mid-training.
//
//===----------------------------------------------------------------------===//

#include "runtime/Dataset.h"
#include "runtime/Image.h"

#include <unordered_map>
#include <unordered_set>

namespace lopt::data {

namespace {

class MiniImagenetDataset : public Dataset {
public:
  MiniImagenetDataset(std::string root, Split split, ImageSpec spec)
      : Dataset(spec), Root(std::move(root)), TheSplit(split) {}

  Status open();

  std::string describe() const override {
    return "Mini-ImageNet (split '" + std::string(splitName(TheSplit)) + "', " +
           std::to_string(Names.size()) + " classes, from " + CsvPath + ")";
  }
  size_t numClasses() const override { return Names.size(); }
  const std::string &className(size_t c) const override { return Names[c]; }
  size_t numImages(size_t c) const override { return Files[c].size(); }
  Status loadImage(size_t c, size_t i, float *out) override;

private:
  std::string Root, CsvPath, ImageDir;
  Split TheSplit;
  std::vector<std::string> Names;              // csv order of first appearance
  std::vector<std::vector<std::string>> Files; // per class: paths
  std::vector<uint8_t> Bytes;                  // reused between loads
};

Status MiniImagenetDataset::open() {
  std::string csvName = std::string(splitName(TheSplit)) + ".csv";
  CsvPath = joinPath(Root, csvName);
  ImageDir = joinPath(Root, "images");
  if (!isRegularFile(CsvPath)) {
    // splits/ravi/ lists all 600 images per class; using it against a subset
    // copy would fail on the missing images, so it is never a fallback.
    std::string ravi = joinPath(Root, "splits/ravi/" + csvName);
    std::string hint =
        isRegularFile(ravi)
            ? " (" + ravi +
                  " exists but is not used: it is the full 600-image split; "
                  "put a csv listing the images present at " +
                  CsvPath + ")"
            : "";
    return Status::error(CsvPath + ": not found" + hint);
  }
  if (!isDirectory(ImageDir))
    return Status::error(ImageDir + ": no such directory (Mini-ImageNet "
                                    "images are read from images/)");

  std::vector<uint8_t> text;
  if (Status s = readFile(CsvPath, text); !s)
    return s;

  std::unordered_map<std::string, size_t> classIndex;
  std::unordered_set<std::string> seenFiles;
  size_t lineNo = 0, pos = 0;
  bool sawHeader = false;
  while (pos < text.size()) {
    size_t eol = pos;
    while (eol < text.size() && text[eol] != '\n')
      ++eol;
    std::string line(text.begin() + pos, text.begin() + eol);
    pos = eol + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (lineNo == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0)
      line.erase(0, 3); // UTF-8 byte order mark from spreadsheet exports
    std::string where = CsvPath + ":" + std::to_string(lineNo) + ": ";
    if (!sawHeader) {
      if (line != "filename,label")
        return Status::error(where +
                             "expected the header 'filename,label', "
                             "got '" +
                             line + "'");
      sawHeader = true;
      continue;
    }
    if (line.empty())
      continue;

    size_t comma = line.find(',');
    if (comma == std::string::npos ||
        line.find(',', comma + 1) != std::string::npos)
      return Status::error(where +
                           "expected 'filename,label' (two fields), "
                           "got '" +
                           line + "'");
    std::string file = line.substr(0, comma), label = line.substr(comma + 1);
    if (file.empty() || label.empty())
      return Status::error(where + "empty " +
                           (file.empty() ? "filename" : "label") + " in '" +
                           line + "'");
    if (file[0] == '/' || file == ".." || file.compare(0, 3, "../") == 0 ||
        file.find("/../") != std::string::npos)
      return Status::error(where + "filename '" + file +
                           "' must name a file inside images/");
    if (!seenFiles.insert(file).second)
      return Status::error(where + "image '" + file + "' is listed twice");
    std::string path = joinPath(ImageDir, file);
    if (!isRegularFile(path))
      return Status::error(where + "image '" + file + "' not found in " +
                           ImageDir + "/ (looked for " + path + ")");

    auto it = classIndex.find(label);
    if (it == classIndex.end()) {
      it = classIndex.emplace(label, Names.size()).first;
      Names.push_back(label);
      Files.emplace_back();
    }
    Files[it->second].push_back(std::move(path));
  }
  if (!sawHeader)
    return Status::error(CsvPath + ": empty file (expected the header "
                                   "'filename,label' and one row per image)");
  if (Names.empty())
    return Status::error(CsvPath + ": lists no images");
  return Status::success();
}

Status MiniImagenetDataset::loadImage(size_t c, size_t i, float *out) {
  if (Status s = checkIndex(c, i); !s)
    return s;
  const std::string &path = Files[c][i];
  if (Status s = readFile(path, Bytes); !s)
    return s;
  FloatImage img;
  if (Status s = decodeImage(Bytes.data(), Bytes.size(), path, img); !s)
    return s;
  return convertToSpec(img, Spec, path, out);
}

} // namespace

Status openMiniImagenet(const std::string &root, Split split, ImageSpec spec,
                        std::unique_ptr<Dataset> &out) {
  if (Status s = checkImageSpec(spec, "Mini-ImageNet at " + root); !s)
    return s;
  if (!isDirectory(root))
    return Status::error(root + ": no such directory (expected the "
                                "Mini-ImageNet folder with images/ and "
                                "train.csv, val.csv, test.csv)");
  auto ds = std::make_unique<MiniImagenetDataset>(root, split, spec);
  if (Status s = ds->open(); !s)
    return s;
  out = std::move(ds);
  return Status::success();
}

} // namespace lopt::data
