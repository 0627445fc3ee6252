// reference_models.h: the ModelConfig of a reference model file (tests/data/reference/model_*.
// safetensors: tiny fla-layout DeltaNet, Gated DeltaNet and DeltaProduct language models with their
// inputs, logits, loss and every gradient in float64; see that folder's README), read from the
// file's metadata and tensor shapes. Shared by the CPU test (double) and the GPU test (float).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "models/backbones/model.h"

namespace db::test {

inline ModelConfig reference_model_config(const SafetensorsFile& f) {
  const int H = std::stoi(f.meta("heads"));
  const int D = std::stoi(f.meta("d_model"));
  const std::string kind = f.meta("kind");
  const int64_t key_dim = f.shape("model.layers.0.attn.q_proj.weight")[0];
  const int64_t head_v = f.shape("model.layers.0.attn.o_norm.weight")[0];
  ModelConfig c;
  c.vocab_size = std::stoi(f.meta("vocab"));
  c.d_model = D;
  c.n_layers = std::stoi(f.meta("layers"));
  c.mlp_hidden = std::stoi(f.meta("mlp_hidden"));
  c.norm_eps = std::stod(f.meta("norm_eps"));
  c.tie_embeddings = f.meta("tied_embeddings") == "1";
  c.max_seq_len = static_cast<int>(f.shape("input.tokens")[1]);
  MixerSpec m;
  m.name = kind;
  m.options["num_heads"] = int64_t{H};
  m.options["head_dim"] = int64_t{key_dim / H};
  m.options["expand_v"] = static_cast<double>(head_v) / static_cast<double>(key_dim / H);
  m.options["chunk_size"] = int64_t{16};  // 37 tokens: two full chunks and a partial one
  m.options["norm_eps"] = c.norm_eps;
  m.options["eigen_range"] = std::vector<double>{f.meta("eigen_range") == "[-1,1]" ? -1.0 : 0.0, 1.0};
  if (kind != "deltanet") {
    m.options["use_forget_gate"] = f.meta("forget_gate") == "1";
    m.options["use_output_gate"] = f.meta("output_gate") == "1";
  }
  if (kind == "deltaproduct") m.options["householder"] = int64_t{std::stoi(f.meta("householder"))};
  c.mixers = {m};
  return c;
}

// the reference model files, by name under tests/data/reference/
inline std::vector<std::string> reference_model_names() {
  return {"model_deltanet", "model_deltanet_neg", "model_gated_deltanet_neg", "model_deltaproduct2_gated_neg",
          "model_deltaproduct3_neg"};
}

// the environment's DELTABENCH_TEST_DATA_DIR, when set, replaces the built-in path, so a test binary
// copied to another machine (a GPU host) can be pointed at the repository's tests/data there
inline std::string reference_path(const std::string& name) {
  const char* moved = std::getenv("DELTABENCH_TEST_DATA_DIR");
  return std::string(moved && *moved ? moved : DELTABENCH_TEST_DATA_DIR) + "/reference/" + name + ".safetensors";
}

}  // namespace db::test
