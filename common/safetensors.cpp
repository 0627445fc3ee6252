// safetensors.cpp: the safetensors reader and writer declared in safetensors.h.
//
// The reader validates everything before trusting the header (lengths, offsets, overlap), because
// a truncated checkpoint or reference file must fail loudly instead of yielding garbage numbers.
// Data is assumed little-endian on disk; deltabench only targets little-endian hosts (checked
// statically below) so bytes are copied as they are.
#include "common/safetensors.h"

#include "common/atomic_file.h"


#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace db {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw std::runtime_error(path + ": " + problem);
}

SafeDtype parse_dtype(const std::string& path, const std::string& name, const std::string& s) {
  if (s == "F32") return SafeDtype::F32;
  if (s == "F64") return SafeDtype::F64;
  if (s == "I64") return SafeDtype::I64;
  if (s == "I32") return SafeDtype::I32;
  if (s == "F16") return SafeDtype::F16;
  if (s == "BF16") return SafeDtype::BF16;
  if (s == "U8") return SafeDtype::U8;
  if (s == "I8") return SafeDtype::I8;
  if (s == "BOOL") return SafeDtype::BOOL;
  fail(path, "tensor '" + name + "' has unsupported dtype '" + s + "'");
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ffu;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // subnormal
  } else if (exponent == 31) {
    magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  return sign ? -magnitude : magnitude;
}

float bf16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  return std::bit_cast<float>(bits);
}

// reads element i of any dtype as double (integers exactly up to 2^53)
template <class Out>
std::vector<Out> convert(const SafeTensor& t, bool allow_float) {
  const int64_t n = t.numel();
  std::vector<Out> out(static_cast<size_t>(n));
  const std::byte* p = t.bytes.data();
  auto load = [p](auto tag, int64_t i) {
    using E = decltype(tag);
    E e;
    std::memcpy(&e, p + i * static_cast<int64_t>(sizeof(E)), sizeof(E));
    return e;
  };
  const bool is_float = t.dtype == SafeDtype::F32 || t.dtype == SafeDtype::F64 || t.dtype == SafeDtype::F16 ||
                        t.dtype == SafeDtype::BF16;
  if (is_float && !allow_float) throw std::runtime_error("safetensors: integer read of a floating-point tensor");
  for (int64_t i = 0; i < n; ++i) {
    Out v{};
    switch (t.dtype) {
      case SafeDtype::F32: v = static_cast<Out>(load(float{}, i)); break;
      case SafeDtype::F64: v = static_cast<Out>(load(double{}, i)); break;
      case SafeDtype::I64: v = static_cast<Out>(load(int64_t{}, i)); break;
      case SafeDtype::I32: v = static_cast<Out>(load(int32_t{}, i)); break;
      case SafeDtype::F16: v = static_cast<Out>(half_to_float(load(uint16_t{}, i))); break;
      case SafeDtype::BF16: v = static_cast<Out>(bf16_to_float(load(uint16_t{}, i))); break;
      case SafeDtype::U8: v = static_cast<Out>(load(uint8_t{}, i)); break;
      case SafeDtype::I8: v = static_cast<Out>(load(int8_t{}, i)); break;
      case SafeDtype::BOOL: v = static_cast<Out>(load(uint8_t{}, i) != 0); break;
    }
    out[static_cast<size_t>(i)] = v;
  }
  return out;
}

template <class E>
SafeTensor make_tensor(SafeDtype dtype, std::vector<int64_t> shape, std::span<const E> values) {
  SafeTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (t.numel() != static_cast<int64_t>(values.size()))
    throw std::invalid_argument("safetensors: shape does not match the number of values");
  t.bytes.resize(values.size() * sizeof(E));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

}  // namespace

const char* safetensors_dtype_name(SafeDtype dtype) {
  switch (dtype) {
    case SafeDtype::F32: return "F32";
    case SafeDtype::F64: return "F64";
    case SafeDtype::I64: return "I64";
    case SafeDtype::I32: return "I32";
    case SafeDtype::F16: return "F16";
    case SafeDtype::BF16: return "BF16";
    case SafeDtype::U8: return "U8";
    case SafeDtype::I8: return "I8";
    case SafeDtype::BOOL: return "BOOL";
  }
  return "?";
}

size_t safetensors_dtype_size(SafeDtype dtype) {
  switch (dtype) {
    case SafeDtype::F64:
    case SafeDtype::I64: return 8;
    case SafeDtype::F32:
    case SafeDtype::I32: return 4;
    case SafeDtype::F16:
    case SafeDtype::BF16: return 2;
    case SafeDtype::U8:
    case SafeDtype::I8:
    case SafeDtype::BOOL: return 1;
  }
  return 0;
}

int64_t SafeTensor::numel() const {
  const std::optional<int64_t> n = checked_numel(shape);
  if (!n) throw std::overflow_error("safetensors: a tensor's shape has more elements than an int64 holds");
  return *n;
}

std::optional<int64_t> checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  return n;
}

std::vector<double> SafeTensor::to_f64() const { return convert<double>(*this, true); }
std::vector<float> SafeTensor::to_f32() const { return convert<float>(*this, true); }
std::vector<int64_t> SafeTensor::to_i64() const { return convert<int64_t>(*this, false); }

SafeTensor SafeTensor::from_f64(std::vector<int64_t> shape, std::span<const double> values) {
  return make_tensor(SafeDtype::F64, std::move(shape), values);
}
SafeTensor SafeTensor::from_f32(std::vector<int64_t> shape, std::span<const float> values) {
  return make_tensor(SafeDtype::F32, std::move(shape), values);
}
SafeTensor SafeTensor::from_i64(std::vector<int64_t> shape, std::span<const int64_t> values) {
  return make_tensor(SafeDtype::I64, std::move(shape), values);
}

const SafeTensor& SafetensorsFile::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail(path, "no tensor named '" + name + "'");
  return it->second;
}

std::string SafetensorsFile::meta(const std::string& key, const std::string& fallback) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? fallback : it->second;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file (" + std::string(std::strerror(errno)) + ")");
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  if (file_size < 8) fail(path, "truncated: " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");

  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  if (header_len > file_size - 8)
    fail(path, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(file_size) + " bytes)");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) fail(path, "could not read the JSON header");
  const uint64_t data_size = file_size - 8 - header_len;

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const std::exception& e) {
    fail(path, std::string("malformed JSON header: ") + e.what());
  }
  if (!j.is_object()) fail(path, "JSON header is not an object");

  SafetensorsFile file;
  file.path = path;
  struct Span { uint64_t begin, end; std::string name; };
  std::vector<Span> spans;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail(path, "__metadata__ value for '" + m.key() + "' is not a string");
        file.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const auto& e = *it;
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      fail(path, "tensor '" + name + "' needs dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) fail(path, "tensor '" + name + "' dtype is not a string");
    SafeTensor t;
    t.dtype = parse_dtype(path, name, e["dtype"].get<std::string>());
    if (!e["shape"].is_array()) fail(path, "tensor '" + name + "' shape is not an array");
    for (const auto& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(path, "tensor '" + name + "' has a bad shape entry");
      t.shape.push_back(d.get<int64_t>());
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path, "tensor '" + name + "' data_offsets must be two non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      fail(path, "tensor '" + name + "' data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") out of range (data section is " + std::to_string(data_size) + " bytes)");
    const std::optional<int64_t> numel = checked_numel(t.shape);
    uint64_t expected = 0;
    if (!numel || __builtin_mul_overflow(static_cast<uint64_t>(*numel), safetensors_dtype_size(t.dtype), &expected))
      fail(path, "tensor '" + name + "' has a shape too large for any file");
    if (end - begin != expected)
      fail(path, "tensor '" + name + "' occupies " + std::to_string(end - begin) + " bytes but its shape and dtype need " +
                     std::to_string(expected));
    spans.push_back({begin, end, name});
    t.bytes.resize(expected);
    file.tensors.emplace(name, std::move(t));
  }

  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      fail(path, "tensors '" + spans[i - 1].name + "' and '" + spans[i].name + "' have overlapping data_offsets");

  const auto data_start = static_cast<std::streamoff>(8 + header_len);
  for (const Span& s : spans) {
    SafeTensor& t = file.tensors.at(s.name);
    if (t.bytes.empty()) continue;
    in.seekg(data_start + static_cast<std::streamoff>(s.begin));
    in.read(reinterpret_cast<char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    if (!in) fail(path, "could not read the data of tensor '" + s.name + "'");
  }
  return file;
}

void write_safetensors(const std::string& path, const std::map<std::string, SafeTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") fail(path, "a tensor cannot be named __metadata__");
    const uint64_t size = t.bytes.size();
    if (const auto n = checked_numel(t.shape); !n || static_cast<uint64_t>(*n) * safetensors_dtype_size(t.dtype) != size)
      fail(path, "tensor '" + name + "' has bytes that do not match its shape");
    header[name] = {{"dtype", safetensors_dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string header_text = header.dump();
  // pad with spaces so the data section starts 8-byte aligned, as the reference writer does
  while ((8 + header_text.size()) % 8 != 0) header_text.push_back(' ');
  const uint64_t header_len = header_text.size();

  // written like every other result file: a temporary file unique to this writer, then a rename
  std::vector<std::string_view> parts = {{reinterpret_cast<const char*>(&header_len), 8}, header_text};
  for (const auto& [name, t] : tensors) parts.emplace_back(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  write_file_atomically(path, parts);
}

}  // namespace db
