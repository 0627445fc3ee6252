// test_safetensors.cpp: the safetensors reader/writer round-trips data and rejects damaged files.
//
// Checkpoints and reference vectors go through this code, so a damaged file must be refused with
// a message naming the file and the problem rather than read as garbage.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/safetensors.h"

namespace db {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("deltabench_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// a file with a hand-written header, to build malformed cases
void write_raw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::vector<char> bytes(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  write_bytes(path, bytes);
}

// expects read_safetensors to throw a runtime_error whose message contains the path and `needle`
void expect_rejected(const std::string& path, const std::string& needle) {
  try {
    read_safetensors(path);
    FAIL() << "accepted a bad file; expected an error mentioning '" << needle << "'";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

TEST(Safetensors, RoundTripKeepsValuesShapesAndMetadata) {
  Rng rng(7);
  std::vector<double> a(2 * 3 * 4);
  for (auto& x : a) x = rng.normal();
  std::vector<float> b(5);
  for (auto& x : b) x = static_cast<float>(rng.normal());
  std::vector<int64_t> c = {-3, 0, 1LL << 40};
  const std::string path = temp_path("roundtrip.safetensors");
  write_safetensors(path,
                    {{"a", SafeTensor::from_f64({2, 3, 4}, a)},
                     {"b", SafeTensor::from_f32({5}, b)},
                     {"c", SafeTensor::from_i64({3}, c)},
                     {"empty", SafeTensor::from_f32({0, 4}, std::vector<float>{})}},
                    {{"description", "round trip"}, {"T", "4"}});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  const auto f = read_safetensors(path);
  EXPECT_EQ(f.tensors.size(), 4u);
  EXPECT_EQ(f.shape("a"), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(f.at("a").dtype, SafeDtype::F64);
  EXPECT_EQ(f.f64("a"), a);            // bit-exact
  EXPECT_EQ(f.f32("b"), b);
  EXPECT_EQ(f.i64("c"), c);
  EXPECT_EQ(f.at("empty").numel(), 0);
  // conversions between float widths
  const auto b64 = f.f64("b");
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b64[i], static_cast<double>(b[i]));
  EXPECT_THROW(f.i64("a"), std::runtime_error);
  EXPECT_EQ(f.meta("description"), "round trip");
  EXPECT_EQ(f.meta("T"), "4");
  EXPECT_EQ(f.meta("absent", "x"), "x");
  EXPECT_THROW(f.at("missing"), std::runtime_error);
  std::filesystem::remove(path);
}

TEST(Safetensors, SizesThatOverflowAreRefused) {
  SafeTensor huge;
  huge.shape = {int64_t{1} << 40, int64_t{1} << 40};
  EXPECT_THROW(huge.numel(), std::overflow_error);
  EXPECT_FALSE(checked_numel(huge.shape).has_value());
  EXPECT_EQ(checked_numel({3, 4}), 12);

  // [2^61] F64 is 2^64 bytes, which wraps to 0 in 64 bits: the empty data section must not match it
  const std::string path = (std::filesystem::temp_directory_path() / "deltabench_overflow.safetensors").string();
  std::string header = R"({"x":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})";
  while (header.size() % 8 != 0) header.push_back(' ');
  const uint64_t header_len = header.size();
  std::string length_bytes(8, '\0');
  std::memcpy(length_bytes.data(), &header_len, 8);
  std::ofstream(path, std::ios::binary) << length_bytes << header;
  try {
    read_safetensors(path);
    ADD_FAILURE() << "a tensor of 2^61 doubles in 0 bytes was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("too large"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Safetensors, ReadsTheCommittedReferenceFiles) {
  const auto f = read_safetensors(std::string(DELTABENCH_TEST_DATA_DIR) + "/reference/kernel_deltanet.safetensors");
  EXPECT_EQ(f.at("q").dtype, SafeDtype::F64);
  EXPECT_EQ(f.shape("q"), (std::vector<int64_t>{2, 2, 100, 16}));
  EXPECT_EQ(f.meta("householder"), "1");
}

TEST(Safetensors, RejectsTruncatedFile) {
  const std::string path = temp_path("truncated.safetensors");
  std::vector<double> a(64, 1.5);
  write_safetensors(path, {{"a", SafeTensor::from_f64({64}, a)}});
  auto bytes = read_bytes(path);
  bytes.resize(bytes.size() - 8);  // lose the last element
  write_bytes(path, bytes);
  expect_rejected(path, "out of range");
  write_bytes(path, std::vector<char>(5, 0));  // shorter than the length field
  expect_rejected(path, "truncated");
  std::filesystem::remove(path);
}

TEST(Safetensors, RejectsBadHeaders) {
  const std::string path = temp_path("bad.safetensors");
  // header length past the end of the file
  {
    std::vector<char> bytes(16, ' ');
    const uint64_t n = 1000;
    std::memcpy(bytes.data(), &n, 8);
    write_bytes(path, bytes);
    expect_rejected(path, "past the end");
  }
  write_raw(path, "{not json", 0);
  expect_rejected(path, "malformed JSON");
  write_raw(path, R"({"a":{"dtype":"F64","shape":[4],"data_offsets":[0,64]}})", 32);
  expect_rejected(path, "out of range");
  write_raw(path, R"({"a":{"dtype":"F64","shape":[4],"data_offsets":[0,24]}})", 32);
  expect_rejected(path, "need");
  write_raw(path, R"({"a":{"dtype":"F64","shape":[4],"data_offsets":[0,32]},"b":{"dtype":"F64","shape":[2],"data_offsets":[16,32]}})",
            32);
  expect_rejected(path, "overlapping");
  write_raw(path, R"({"a":{"dtype":"Q7","shape":[4],"data_offsets":[0,32]}})", 32);
  expect_rejected(path, "unsupported dtype");
  write_raw(path, R"({"a":{"dtype":"F64","shape":[4]}})", 32);
  expect_rejected(path, "data_offsets");
  std::filesystem::remove(path);
  expect_rejected(path, "cannot open");
}

}  // namespace
}  // namespace db
