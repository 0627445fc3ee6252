// fuzz_safetensors.cpp: libFuzzer target for the safetensors reader.
//
// Every byte string is a candidate file: the reader must return a file whose tensors' bytes match
// their shapes, or throw std::runtime_error; anything else (a crash, a sanitizer report, an
// allocation the input does not pay for, a hang) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "common/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/deltabench_fuzz_" + std::to_string(::getpid()) + ".safetensors";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const db::SafetensorsFile f = db::read_safetensors(path);
    for (const auto& [name, t] : f.tensors)
      if (static_cast<uint64_t>(t.numel()) * db::safetensors_dtype_size(t.dtype) != t.bytes.size()) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
