//===- Dataset.cpp - dataset base class and layout detection
//---------------===//
//
// Shared pieces of the data layer: split names, spec validation and
// openDataset(), which recognises a benchmark by the files in its folder.
//
//===----------------------------------------------------------------------===//

#include "runtime/Dataset.h"
#include "runtime/Image.h"

namespace lopt::data {

const char *splitName(Split split) {
  switch (split) {
  case Split::Train:
    return "train";
  case Split::Val:
    return "val";
  case Split::Test:
    return "test";
  }
  return "unknown";
}

Status parseSplit(const std::string &name, Split &out) {
  for (Split s : {Split::Train, Split::Val, Split::Test})
    if (name == splitName(s)) {
      out = s;
      return Status::success();
    }
  return Status::error("unknown split '" + name +
                       "' (expected train, val or test)");
}

Status checkImageSpec(const ImageSpec &spec, const std::string &who) {
  if (spec.channels != 1 && spec.channels != 3)
    return Status::error(who + ": image spec asks for " +
                         std::to_string(spec.channels) +
                         " channels; only 1 (grey) and 3 (RGB) are supported");
  // 4096 keeps C*H*W far from overflow and rejects sizes that are typos.
  if (spec.height < 1 || spec.width < 1 || spec.height > 4096 ||
      spec.width > 4096)
    return Status::error(
        who + ": image spec size " + std::to_string(spec.height) + "x" +
        std::to_string(spec.width) + " is out of range (1..4096)");
  return Status::success();
}

Dataset::~Dataset() = default;

Status Dataset::checkIndex(size_t c, size_t i) const {
  if (c >= numClasses())
    return Status::error(describe() + ": class index " + std::to_string(c) +
                         " out of range (" + std::to_string(numClasses()) +
                         " classes)");
  if (i >= numImages(c))
    return Status::error(describe() + ": image index " + std::to_string(i) +
                         " out of range for class '" + className(c) + "' (" +
                         std::to_string(numImages(c)) + " images)");
  return Status::success();
}

Status openDataset(const std::string &path, Split split, ImageSpec spec,
                   std::unique_ptr<Dataset> &out) {
  if (!isDirectory(path))
    return Status::error(path + ": no such directory (expected a dataset "
                                "folder: omniglot, mini-imagenet or "
                                "fashion-mnist)");
  auto has = [&](const char *name) {
    return isRegularFile(joinPath(path, name));
  };
  auto hasDir = [&](const char *name) {
    return isDirectory(joinPath(path, name));
  };

  if ((has("images_background.zip") || hasDir("images_background") ||
       has("images_evaluation.zip") || hasDir("images_evaluation")) &&
      hasDir("splits/vinyals"))
    return openOmniglot(path, split, spec, out);
  if (hasDir("images") &&
      (has("train.csv") || has("val.csv") || has("test.csv")))
    return openMiniImagenet(path, split, spec, out);
  if (has("train-images-idx3-ubyte.gz") || has("train-images-idx3-ubyte") ||
      has("t10k-images-idx3-ubyte.gz"))
    return openFashionMnist(path, split, spec, out);
  // Pointing at the folder that holds the datasets is an easy slip.
  std::string hint;
  for (const char *sub : {"omniglot", "mini-imagenet", "fashion-mnist"})
    if (hasDir(sub))
      hint += (hint.empty() ? "; did you mean " : " or ") + joinPath(path, sub);
  return Status::error(
      path +
      ": no known dataset layout; looked for omniglot "
      "(images_background.zip or images_background/, plus splits/vinyals/), "
      "mini-imagenet (images/ plus train.csv, val.csv, test.csv) and "
      "fashion-mnist (train-images-idx3-ubyte.gz)" +
      (hint.empty() ? "" : hint + "?"));
}

} // namespace lopt::data
