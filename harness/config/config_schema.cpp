// config_schema.cpp: model scaffold and training keys with defaults and help (see config_schema.h).
#include "harness/config/config_schema.h"

#include "models/backbones/model.h"

namespace db {

const OptionSpecs& model_option_specs() {
  // the defaults are ModelConfig's own, so the model and its config keys cannot disagree
  static const ModelConfig d;
  static const OptionSpecs specs = {
      {"d_model", int64_t{d.d_model}, "model width D"},
      {"n_layers", int64_t{d.n_layers}, "number of layers (with layout: alternate, mixer and MLP layers each count)"},
      {"layout", d.layout,
       "block: each layer is x+mixer(norm x) then x+mlp(norm x); alternate: layers alternate mixer and MLP "
       "(MAD's [mixer, swiglu, mixer, swiglu])",
       {"block", "alternate"}},
      {"mlp", d.mlp, "channel mixer after each token mixer: swiglu or none (Zoology MQAR)", {"swiglu", "none"}},
      {"mlp_hidden", int64_t{d.mlp_hidden}, "SwiGLU hidden size; 0 = 256*ceil(int(8*d_model/3)/256) as in fla"},
      {"norm", d.norm, "normalisation of the pre-norm blocks and the final norm", {"rmsnorm", "layernorm"}},
      {"norm_eps", d.norm_eps, "epsilon of every norm"},
      {"position", d.position, "absolute position embedding: none or learned", {"none", "learned"}},
      {"tie_embeddings", d.tie_embeddings, "tie the LM head to the token embedding"},
      {"head_bias", d.head_bias, "bias on the LM head (MAD's backbone has one)"},
      {"backbone", d.backbone,
       "lm: logits at every position; autoencoder: MAD compression (decode every position from the last state); task compression requires autoencoder",
       {"lm", "autoencoder"}},
      {"init_std", d.init_std, "std of the normal initialisation of Linear, Conv and Embedding weights"},
  };
  return specs;
}

const OptionSpecs& train_option_specs() {
  static const OptionSpecs specs = {
      {"lr", 1e-3, "peak learning rate"},
      {"weight_decay", 0.1, "AdamW decoupled weight decay (not applied to norms, biases, A_log, dt_bias)"},
      {"betas", std::vector<double>{0.9, 0.999}, "AdamW betas"},
      {"eps", 1e-8, "AdamW epsilon"},
      {"schedule", std::string("cosine"),
       "constant; cosine: linear warm-up then cosine per step; cosine_epoch: cosine stepped once per epoch "
       "(Zoology, MAD)",
       {"constant", "cosine", "cosine_epoch"}},
      {"warmup_steps", int64_t{0}, "linear warm-up steps (cosine schedule)"},
      {"warmup_fraction", 0.0, "warm-up as a fraction of all steps (used when warmup_steps is 0)"},
      {"min_lr", 0.0, "learning rate at the end of the cosine"},
      {"batch_size", int64_t{64}, "training batch size"},
      {"shuffle", true, "reshuffle the training set every epoch (MAD); false replays it in order (Zoology)"},
      {"eval_batch_size", int64_t{0}, "evaluation batch size; 0 = batch_size"},
      {"epochs", int64_t{0}, "passes over the training set (0: use steps)"},
      {"steps", int64_t{0}, "optimizer steps (0: use epochs)"},
      {"grad_clip", 0.0, "clip the global gradient norm to this value; 0 = off"},
      {"early_stop", 0.0, "stop once the test score exceeds this (Zoology: 0.99); 0 = off"},
      {"eval_interval", int64_t{0}, "evaluate every this many steps; 0 = once per epoch"},
      {"eval_examples", int64_t{0}, "cap on test examples used at intermediate evals; 0 = all"},
      {"checkpoint_interval", int64_t{0}, "write a resumable checkpoint every this many steps; 0 = at the end only"},
      {"threads", int64_t{0}, "OpenMP threads for this run; 0 = all cores"},
      {"device", std::string("cpu"),
       "where the run trains: cpu (the reference) or cuda (the GPU backend, in builds made where nvcc was found)",
       {"cpu", "cuda"}},
      {"precision", std::string("fp32"),
       "fp32, or bf16 (device cuda only): GEMMs on bf16 operands with fp32 accumulation, and the weights' "
       "GEMM copies and the activations layers keep stored in bf16; master weights, optimizer, residual "
       "stream, recurrences and gradients stay fp32",
       {"fp32", "bf16"}},
  };
  return specs;
}

}  // namespace db
