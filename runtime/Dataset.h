//===- Dataset.h - few-shot datasets as classes of images -------*- C++ -*-===//
//
// The data layer the generated meta-training binaries and the interpreter
// read episodes from. A Dataset is one split (train/val/test) of one benchmark
// seen as a list of classes, each a list of images that are decoded lazily and
// converted to the ImageSpec the learner wants.
//
// Supported layouts (the official ones; see ../shared/data/README.md):
//  * Omniglot: images_background(.zip) and images_evaluation(.zip) plus
//    splits/vinyals/{train,val,test}.txt. A class is one character at one
//    rotation (lines `Alphabet/characterNN/rotDDD`). Ink = 1, paper = 0.
//  * Mini-ImageNet: images/*.jpg plus {train,val,test}.csv (`filename,label`).
//  * Fashion-MNIST: the gzipped IDX files. It has only 10 classes, so the
//    classes are split 5/5: Train = classes 0-4 (from train-*.gz); Val and
//    Test both use classes 5-9 from t10k-*.gz, Val the first half of each
//    class's images (in file order) and Test the second half. Val and Test
//    therefore share classes but never images.
//
// The runtime is built with -fno-exceptions and without MLIR/LLVM: every
// failure is returned as a Status whose message names the file concerned.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_DATASET_H
#define LOPT_RUNTIME_DATASET_H

#include <cstddef>
#include <memory>
#include <string>

namespace lopt::data {

/// Success, or an error with a message for the user. The message names the
/// file (or flag) concerned and says what was wrong, e.g.
/// "train.csv:17: image 'x.jpg' not found in /data/mini-imagenet/images/".
class Status {
public:
  static Status success() { return Status(); }
  static Status error(std::string msg) {
    Status s;
    s.Failed = true;
    s.Message = std::move(msg);
    return s;
  }

  bool ok() const { return !Failed; }
  /// True if ok, so that `if (Status s = f()) ... else report(s)` reads well.
  explicit operator bool() const { return ok(); }
  /// Empty on success.
  const std::string &message() const { return Message; }

  /// Returns an error whose message is `prefix + message()`; success stays
  /// success. For adding context ("episode 3: ...") on the way up.
  Status withPrefix(const std::string &prefix) const {
    return ok() ? *this : error(prefix + Message);
  }

private:
  Status() = default;
  bool Failed = false;
  std::string Message;
};

enum class Split { Train, Val, Test };

/// "train", "val" or "test": the names used by the split files.
const char *splitName(Split split);

/// Parses "train", "val" or "test" (as a command line gives it). The error
/// does not know the flag; callers prefix it.
Status parseSplit(const std::string &name, Split &out);

/// What the learner wants: every image is converted to this many channels
/// (1 = grey, 3 = RGB) and resized by area averaging to height x width.
struct ImageSpec {
  int channels, height, width;
};

/// Checks that `spec` is usable (channels 1 or 3, sizes 1..4096); `who` names
/// the caller in the message.
Status checkImageSpec(const ImageSpec &spec, const std::string &who);

/// One split of one dataset: classes, each a list of images.
class Dataset {
public:
  explicit Dataset(ImageSpec spec) : Spec(spec) {}
  virtual ~Dataset();

  /// One line for logs, e.g.
  /// "Omniglot (Vinyals split 'train', 4112 classes, from /path/zips)".
  virtual std::string describe() const = 0;
  virtual size_t numClasses() const = 0;
  /// A name unique within the dataset (Omniglot:
  /// "Alphabet/characterNN/rotDDD").
  virtual const std::string &className(size_t c) const = 0;
  virtual size_t numImages(size_t c) const = 0;
  /// Decodes image i of class c, converted to spec() (channels, resize), into
  /// out[C*H*W], CHW, floats in [0,1]. Out-of-range indices are errors.
  virtual Status loadImage(size_t c, size_t i, float *out) = 0;

  const ImageSpec &spec() const { return Spec; }
  /// spec().channels * spec().height * spec().width.
  size_t imageSize() const {
    return size_t(Spec.channels) * size_t(Spec.height) * size_t(Spec.width);
  }

protected:
  /// The common bounds check for loadImage implementations.
  Status checkIndex(size_t c, size_t i) const;

  ImageSpec Spec;
};

/// `root` holds images_background/ and images_evaluation/ (folders preferred)
/// or the .zip archives, plus splits/vinyals/<split>.txt.
Status openOmniglot(const std::string &root, Split split, ImageSpec spec,
                    std::unique_ptr<Dataset> &out);
/// `dir` holds {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (uncompressed
/// files without .gz are accepted too). See the split rule above.
Status openFashionMnist(const std::string &dir, Split split, ImageSpec spec,
                        std::unique_ptr<Dataset> &out);
/// `root` holds <split>.csv and images/. Every listed image is checked to
/// exist when opening, so a missing file is reported before training starts.
Status openMiniImagenet(const std::string &root, Split split, ImageSpec spec,
                        std::unique_ptr<Dataset> &out);

/// Detects the layout at `path` (omniglot: images_background(.zip) +
/// splits/vinyals; mini-imagenet: images/ + train.csv; fashion-mnist:
/// train-images-idx3-ubyte.gz) and opens it; the error names the path and
/// lists what was looked for.
Status openDataset(const std::string &path, Split split, ImageSpec spec,
                   std::unique_ptr<Dataset> &out);

} // namespace lopt::data

#endif // LOPT_RUNTIME_DATASET_H
