// safetensors.h: read and write the safetensors tensor container.
//
// Reference vectors (tests/data/reference), checkpoints and exported parameters all use this one
// format so that PyTorch / numpy can read what deltabench writes and vice versa. Layout: an 8-byte
// little-endian header length N, N bytes of JSON ({name: {dtype, shape, data_offsets}} plus an
// optional "__metadata__" string map), then raw little-endian C-order data; data_offsets are
// relative to the end of the header. This file is precision-independent (no db::real): callers
// ask for the element type they want and the reader converts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <optional>
#include <string>
#include <vector>

namespace db {

enum class SafeDtype { F32, F64, I64, I32, F16, BF16, U8, I8, BOOL };

// "F32", "F64", ... as written in the JSON header
const char* safetensors_dtype_name(SafeDtype dtype);
size_t safetensors_dtype_size(SafeDtype dtype);

// the number of elements of a shape, or nothing when a dimension is negative or the product overflows
std::optional<int64_t> checked_numel(const std::vector<int64_t>& shape);

struct SafeTensor {
  SafeDtype dtype = SafeDtype::F32;
  std::vector<int64_t> shape;     // row-major (C order)
  std::vector<std::byte> bytes;   // raw little-endian data, numel * dtype size

  int64_t numel() const;  // throws std::overflow_error when the product does not fit
  // converted copies; F16/BF16/BOOL/U8/I8/I32 convert too, integer reads of float data throw
  std::vector<double> to_f64() const;
  std::vector<float> to_f32() const;
  std::vector<int64_t> to_i64() const;

  static SafeTensor from_f64(std::vector<int64_t> shape, std::span<const double> values);
  static SafeTensor from_f32(std::vector<int64_t> shape, std::span<const float> values);
  static SafeTensor from_i64(std::vector<int64_t> shape, std::span<const int64_t> values);
};

struct SafetensorsFile {
  std::string path;  // where it was read from, for error messages
  std::map<std::string, SafeTensor> tensors;
  std::map<std::string, std::string> metadata;

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  // throws std::runtime_error naming the file and the tensor when absent
  const SafeTensor& at(const std::string& name) const;
  std::vector<double> f64(const std::string& name) const { return at(name).to_f64(); }
  std::vector<float> f32(const std::string& name) const { return at(name).to_f32(); }
  std::vector<int64_t> i64(const std::string& name) const { return at(name).to_i64(); }
  const std::vector<int64_t>& shape(const std::string& name) const { return at(name).shape; }
  // metadata value or `fallback` when the key is absent
  std::string meta(const std::string& key, const std::string& fallback = "") const;
};

// Reads and validates the whole file. Throws std::runtime_error("<path>: <problem>") for a missing
// or truncated file, a header length past the end, malformed JSON, an unknown dtype, a shape/size
// mismatch, or data_offsets out of range or overlapping another tensor.
SafetensorsFile read_safetensors(const std::string& path);

// Writes tensors (in name order, packed) and metadata atomically: to path + ".tmp", fsync, rename.
// Throws std::runtime_error on any I/O failure (the .tmp file is removed).
void write_safetensors(const std::string& path, const std::map<std::string, SafeTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace db
