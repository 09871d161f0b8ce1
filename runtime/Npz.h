//===- Npz.h - NumPy .npz archives (read and write) -------------*- C++ -*-===//
//
// An .npz is a zip archive of `<name>.npy` members, as numpy.savez and
// numpy.savez_compressed write it. The runtime uses it to exchange tensors
// (meta-parameters, gradients, reference outputs) with Python.
//
// Reading accepts stored and deflated members, .npy format versions 1.0, 2.0
// (and 3.0, which differs from 2.0 only in allowing a UTF-8 header), C order,
// and the dtypes '<f4', '<f8', '<i4' and '<i8' (the latter converted to int32
// when every value is in range). Everything else (Fortran order, bool, uint8,
// big-endian, structured, object arrays) is rejected with a message.
//
// Writing produces what numpy.savez produces: stored members whose .npy
// headers (version 1.0) are byte-for-byte the ones numpy writes.
//
// Like the rest of the runtime: no exceptions, no MLIR/LLVM; every failure is
// a Status whose message names the file (and the array) concerned.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_RUNTIME_NPZ_H
#define LOPT_RUNTIME_NPZ_H

#include "runtime/Dataset.h"
#include "runtime/Tensor.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lopt::data {

/// One named array of an .npz archive: float32, float64 or int32 data, C
/// order. Only the vector matching `type` is filled.
struct NpzArray {
  std::string name; // the member name without ".npy"
  Shape shape;      // {} for a scalar
  enum class Type { F32, F64, I32 } type = Type::F32;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<int32_t> i32;
};

/// "float32", "float64" or "int32", for messages.
const char *npzTypeName(NpzArray::Type type);

/// Collects named arrays and writes them as one .npz archive.
class NpzWriter {
public:
  /// Adds an array. Names may contain '.', '/' and '_' ("meta/h.weight");
  /// the member is `name + ".npy"`. Adding a name again replaces the array
  /// added before under that name (keeping its position).
  void add(const std::string &name, const Tensor<float> &t);
  void add(const std::string &name, const Tensor<double> &t);
  void add(const std::string &name, const Tensor<int32_t> &t);
  /// A float64 scalar (shape ()).
  void addScalar(const std::string &name, double v);

  size_t size() const { return Members.size(); }

  /// Writes the archive atomically: to `path + ".tmp-<pid>"`, then rename();
  /// on any failure the temp file is removed and `path` is left as it was
  /// (absent, or the previous file).
  Status write(const std::string &path) const;

private:
  void addMember(const std::string &name, std::vector<uint8_t> npy);

  /// (array name, complete .npy file contents), in the order added.
  std::vector<std::pair<std::string, std::vector<uint8_t>>> Members;
};

/// Reads every array of the .npz at `path` into `out` (replacing its
/// contents), in archive order. Directory entries are ignored; any other
/// member must be a supported `.npy`.
Status readNpz(const std::string &path, std::vector<NpzArray> &out);

/// Finds the array `name` in `arrays` (read from `file`, which only serves
/// the messages) and converts it to float (from float32 or float64). When
/// `expectShape` is non-empty the array must have exactly that shape. Errors
/// name the file and the array (and both shapes on a mismatch).
Status getFloat(const std::vector<NpzArray> &arrays, const std::string &file,
                const std::string &name, const Shape &expectShape,
                Tensor<float> &out);
/// Like getFloat for an int32 array (int64 arrays were converted on reading).
Status getInt(const std::vector<NpzArray> &arrays, const std::string &file,
              const std::string &name, const Shape &expectShape,
              Tensor<int32_t> &out);

} // namespace lopt::data

#endif // LOPT_RUNTIME_NPZ_H
