// gpu_projected_recurrence_layer.h: the CUDA half of ProjectedRecurrenceLayer
// (models/mixers/projected_recurrence_layer.h), shared by linear attention, DeltaNet, Gated
// DeltaNet, DeltaProduct and gated linear attention.
//
// The same pipeline on device buffers: projections (cuBLAS), short conv + SiLU, kernel layout with
// L2-normalised q and k, beta and the forget gate, the recurrence of every (batch, head) sequence
// in one batched call, the per-head output norm (gated or not) and o_proj. A subclass brings the
// recurrence (recurrence_forward/backward) as the CPU subclasses do: the gated delta rule for the
// DeltaNet family, the additive kernel for linear attention. On the GPU the recurrence always runs
// in its chunkwise form; the CPU's `mode: recurrent` selects the CPU reference only, and both
// forms compute the same function. Sequences start from the zero state.
// In a bf16 run (bf16.h) the projections read x rounded once to bf16, and the activations they
// produce and the layer keeps (q, k, v and gate projections, the normed output) are bf16; the
// recurrence reads its q, k, v, beta and gate in fp32 and keeps its state in fp32.
#pragma once

#include <memory>

#include "models/cuda/bf16.h"
#include "models/cuda/blas.h"
#include "models/cuda/gpu_module.h"
#include "models/mixers/projected_recurrence_layer.h"

namespace db::cuda {

class GpuShortConv;
class GpuHeadNorm;

class GpuProjectedRecurrenceLayer : public GpuModule {
 public:
  using Settings = ProjectedRecurrenceLayer::Settings;
  // params: the scope the host mixer declared its parameters in (model.layers.<i>.attn)
  GpuProjectedRecurrenceLayer(const Context& ctx, int d_model, const Settings& settings, const ParamScope& params);
  ~GpuProjectedRecurrenceLayer() override;

  void forward(const float* x, float* y, int B, int T) override;
  void backward(const float* dy, float* dx) override;

 protected:
  // all (batch, head) sequences in kernel layout, S = B*H of them, P = T*n_h positions each
  struct Sequences {
    int S = 0, T = 0, K = 0, V = 0, n_h = 1;
    const float* q = nullptr;     // [S, T, K] L2-normalised
    const float* k = nullptr;     // [S, P, K] L2-normalised
    const float* v = nullptr;     // [S, P, V]
    const float* beta = nullptr;  // [S, P] (ones when the mixer has no learned beta)
    const float* g = nullptr;     // [S, T] log decay, or null
    float* o = nullptr;           // [S, T, V]
  };
  struct SequenceGrads {
    const float* d_o = nullptr;  // [S, T, V]
    float* dq = nullptr;         // [S, T, K]
    float* dk = nullptr;         // [S, P, K]
    float* dv = nullptr;         // [S, P, V]
    float* dbeta = nullptr;      // [S, P] (written even when beta is fixed; then discarded)
    float* dg = nullptr;         // [S, T] or null (exactly when g is given)
  };
  virtual void recurrence_forward(const Sequences& s) = 0;
  virtual void recurrence_backward(const Sequences& s, const SequenceGrads& g) = 0;

  const Context& ctx() const { return ctx_; }
  const Settings& settings() const { return cfg_; }

 private:
  Sequences sequences();
  template <class A>
  void forward_as(const float* x, float* y);
  template <class A>
  void backward_as(const float* dy, float* dx);

  const Context& ctx_;
  Settings cfg_;
  int D_, H_, K_, V_, nh_;
  // device parameters (null when the mixer lacks the part)
  DeviceParam q_proj_, k_proj_, v_proj_, b_proj_, a_proj_, g_proj_, o_proj_, A_log_, dt_bias_;
  std::unique_ptr<GpuShortConv> conv_[3];  // q, k, v
  std::unique_ptr<GpuHeadNorm> o_norm_;

  int B_ = 0, T_ = 0;
  // [B*T, D] what the projections read: the forward input (fp32; the caller keeps it until
  // backward), or its bf16 rounding in x_bf16_
  GemmIn x_ = static_cast<const float*>(nullptr);
  DeviceBuffer<bf16> x_bf16_;
  ActivationBuffer proj_[3];        // [B*T, H*K], [B*T, n_h*H*K], [B*T, n_h*H*V] q, k, v projections
  DeviceBuffer<float> conv_out_[3]; // same shapes after conv + SiLU
  DeviceBuffer<float> bp_, ap_;     // [B*T, n_h*H], [B*T, H]
  ActivationBuffer gp_;             // [B*T, H*V] the output gate's projection
  DeviceBuffer<float> qn_, kn_, vh_;     // [S, T, K], [S, P, K], [S, P, V] kernel layout
  DeviceBuffer<float> q_rstd_, k_rstd_;  // [S*T], [S*P]
  DeviceBuffer<float> beta_, g_, gz_;    // [S, P], [S, T], [S, T]
  DeviceBuffer<float> oh_;               // [S, T, V]
  DeviceBuffer<float> o_;                // [B*T, H*V]
  ActivationBuffer normed_;              // [B*T, H*V] o_proj's input
  // backward
  DeviceBuffer<float> d_normed_, d_o_, d_gp_;       // [B*T, H*V]
  DeviceBuffer<float> doh_, dqn_, dkn_, dvh_;       // kernel layout
  DeviceBuffer<float> dbeta_, dg_, dbp_, dap_;      // [S, P], [S, T], [B*T, n_h*H], [B*T, H]
  DeviceBuffer<float> dconv_[3], dproj_[3];         // projection layout
  DeviceBuffer<float> gate_partials_;
};

}  // namespace db::cuda
