// mlstm.cpp: the xLSTM mLSTM cell as a token mixer (see the header for the math and the choices).
//
// Backward of one (batch, head) sequence, walking time in reverse with the carries dC = dL/dC_t,
// dn = dL/dn_t, dm = dL/dm_t (from dstate_out at t = T):
//   den = max(|d|, e),  d = n_t.q,  e = exp(-m_t),  h~ = C_t^T q / den
//   dden = -<dh~, h~> / den;  |d| >= e: dd = dden sign(d), else dm_t += -dden e
//   dq = C_t dh~/den + dd n_t;   dC += q (dh~/den)^T;   dn += dd q
//   df' = <dC, C_{t-1}> + <dn, n_{t-1}>,   di' = <dC, s k v^T> + <dn, s k>
//   dk = i' s (dC v + dn),   dv = i' s dC^T k,   then dC, dn *= f' (carried to t-1)
//   dm_t += -(df' f' + di' i');  da = df' f';  di~ = di' i';  dm_t goes to the larger of a, i~
//   df~ = da sigmoid(-f~),  dm_{t-1} = da        (a = log sigmoid(f~) + m_{t-1})
#include "models/mixers/mlstm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/mixers/xlstm_common.h"
#include "models/numerics/activations.h"
#include "models/numerics/parallel.h"

namespace db {

namespace {

// f(i) for i in [0, n): one (batch, head) sequence each, in parallel when the work is worth it;
// sequences are independent, so the thread count does not change any result
template <class F>
void for_each_sequence(int n, Index work, F&& f) {
  if (worth_a_parallel_region(n, work)) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; ++i) f(i);
  } else {
    for (int i = 0; i < n; ++i) f(i);
  }
}

// xLSTM's bias_linspace_init_: start..end evenly over the n entries (start alone when n = 1)
ParamInit linspace_init(double start, double end) {
  return ParamInit::custom([start, end](real* d, size_t n, Rng&) {
    for (size_t i = 0; i < n; ++i)
      d[i] = static_cast<real>(n > 1 ? start + (end - start) * double(i) / double(n - 1) : start);
  });
}

}  // namespace

MLSTMMixer::MLSTMMixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model), H_(static_cast<int>(o.get_int("num_heads"))) {
  const XlstmShape shape = xlstm_shape(d_model, o);
  K_ = shape.head_dim, W_ = shape.conv_width;
  const double std = 0.02;
  if (W_ > 0) {
    conv_ = std::make_unique<ShortConv>(arena, "conv1d", D_, W_, /*silu=*/true, std);
    packed_conv_ = std::make_unique<PackedStateConv>(*conv_);
  }
  q_proj_ = std::make_unique<Linear>(arena, "q_proj", D_, D_, false, std);
  k_proj_ = std::make_unique<Linear>(arena, "k_proj", D_, D_, false, std);
  v_proj_ = std::make_unique<Linear>(arena, "v_proj", D_, D_, false, std);
  // gates: zero weights, input bias ~ N(0, 0.1), forget bias linspace(3, 6) (mLSTMCell.reset_parameters)
  igate_ = std::make_unique<Linear>(arena, "igate", 3 * D_, H_, false, 0.0);
  fgate_ = std::make_unique<Linear>(arena, "fgate", 3 * D_, H_, false, 0.0);
  {
    ParamArena::Scope scope(arena, "igate");
    igate_bias_ = arena.add("bias", {H_}, ParamInit::custom([](real* d, size_t n, Rng& rng) {
                              for (size_t i = 0; i < n; ++i) d[i] = static_cast<real>(0.1 * rng.normal());
                            }),
                            /*weight_decay=*/false);
  }
  {
    ParamArena::Scope scope(arena, "fgate");
    fgate_bias_ = arena.add("bias", {H_}, linspace_init(3.0, 6.0), /*weight_decay=*/false);
  }
  outnorm_ = std::make_unique<MultiHeadLayerNorm>(arena, "outnorm", H_, K_, 1e-5);
  skip_ = arena.add("learnable_skip", {D_}, ParamInit::ones(), /*weight_decay=*/false);
  g_proj_ = std::make_unique<Linear>(arena, "g_proj", D_, D_, false, std);
  o_proj_ = std::make_unique<Linear>(arena, "o_proj", D_, D_, false, std);
}

int64_t MLSTMMixer::state_size() const { return cell_state_size() + (W_ > 0 ? int64_t(W_ - 1) * D_ : 0); }

int64_t MLSTMMixer::reported_state_size(int) const { return cell_state_size(); }

void MLSTMMixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  B_ = B, T_ = T;
  has_state_in_ = state_in != nullptr;
  const Index rows = Index(B) * T;
  const int D = D_, H = H_;
  const int64_t S = state_size(), cell = cell_state_size();
  x_.assign(x, x + rows * D);
  const real* xc = x;
  if (conv_) {
    xc_.resize(rows * D);
    packed_conv_->forward(x, xc_.data(), B, T, state_in, state_out, S, cell);
    xc = xc_.data();
  }
  q_.resize(rows * D), k_.resize(rows * D), v_.resize(rows * D);
  q_proj_->apply(xc, q_.data(), rows);
  k_proj_->apply(xc, k_.data(), rows);
  v_proj_->apply(x, v_.data(), rows);
  qkv_.resize(rows * 3 * D);
  for (Index r = 0; r < rows; ++r) {
    std::copy_n(q_.data() + r * D, D, qkv_.data() + r * 3 * D);
    std::copy_n(k_.data() + r * D, D, qkv_.data() + r * 3 * D + D);
    std::copy_n(v_.data() + r * D, D, qkv_.data() + r * 3 * D + 2 * D);
  }
  ig_.resize(rows * H), fg_.resize(rows * H);
  igate_->apply(qkv_.data(), ig_.data(), rows);
  fgate_->apply(qkv_.data(), fg_.data(), rows);
  for (Index r = 0; r < rows; ++r)
    for (int h = 0; h < H; ++h) {
      ig_[r * H + h] += igate_bias_.data()[h];
      fg_[r * H + h] += fgate_bias_.data()[h];
    }

  const Index KK = Index(K_) * K_;
  C_.resize(size_t(B) * H * (T + 1) * KK);
  n_.resize(size_t(B) * H * (T + 1) * K_);
  m_.resize(size_t(B) * H * (T + 1));
  htil_.resize(rows * D);
  for_each_sequence(B * H, Index(B) * H * T * KK * 4, [&](int bh) {
    recurrence_forward(bh, state_in ? state_in + (bh / H) * S : nullptr);
  });
  if (state_out)
    for (int bh = 0; bh < B * H; ++bh) {
      const int b = bh / H, h = bh % H;
      real* st = state_out + b * S;
      std::copy_n(C_.data() + (size_t(bh) * (T + 1) + T) * KK, KK, st + h * KK);
      std::copy_n(n_.data() + (size_t(bh) * (T + 1) + T) * K_, K_, st + H * KK + h * K_);
      st[H * KK + H * K_ + h] = m_[size_t(bh) * (T + 1) + T];
    }

  hn_.resize(rows * D), gp_.resize(rows * D), u_.resize(rows * D);
  outnorm_->forward(htil_.data(), hn_.data(), rows);
  g_proj_->apply(x, gp_.data(), rows);
  const real* skip = skip_.data();
  parallel_blocks(rows, 64, 16 * rows * D, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r)
      for (int j = 0; j < D; ++j) {
        const Index i = r * D + j;
        u_[i] = (hn_[i] + skip[j] * xc[i]) * silu(gp_[i]);
      }
  });
  o_proj_->apply(u_.data(), y, rows);
}

void MLSTMMixer::recurrence_forward(int bh, const real* st) {
  const int T = T_, H = H_, K = K_, D = D_;
  const int b = bh / H, h = bh % H;
  const Index KK = Index(K) * K;
  real* C = C_.data() + size_t(bh) * (T + 1) * KK;
  real* n = n_.data() + size_t(bh) * (T + 1) * K;
  real* m = m_.data() + size_t(bh) * (T + 1);
  if (st) {
    std::copy_n(st + h * KK, KK, C);
    std::copy_n(st + H * KK + h * K, K, n);
    m[0] = st[H * KK + H * K + h];
  } else {
    std::fill_n(C, KK, real(0));
    std::fill_n(n, K, real(0));
    m[0] = 0;
  }
  MLSTMHeadInputs in;
  in.T = T, in.K = K, in.stride = D, in.gate_stride = H;
  const Index first = Index(b) * T * D + Index(h) * K;
  in.q = q_.data() + first, in.k = k_.data() + first, in.v = v_.data() + first;
  in.ig = ig_.data() + Index(b) * T * H + h, in.fg = fg_.data() + Index(b) * T * H + h;
  mlstm_head_forward(in, C, n, m, htil_.data() + first, D);
}

void mlstm_head_forward(const MLSTMHeadInputs& in, real* C, real* n, real* m, real* out, Index out_stride) {
  const int T = in.T, K = in.K;
  const Index KK = Index(K) * K;
  const real s = static_cast<real>(1.0 / std::sqrt(double(K)));
  for (int t = 0; t < T; ++t) {
    const real* q = in.q + t * in.stride;
    const real* k = in.k + t * in.stride;
    const real* v = in.v + t * in.stride;
    const real ig = in.ig[t * in.gate_stride], fg = in.fg[t * in.gate_stride];
    const real a = log_sigmoid(fg) + m[t];
    const real mt = std::max(a, ig);
    m[t + 1] = mt;
    const real fp = std::exp(a - mt), ip = std::exp(ig - mt);
    const real* Cp = C + t * KK;
    real* Cn = C + (t + 1) * KK;
    const real* np = n + Index(t) * K;
    real* nn = n + Index(t + 1) * K;
    real d = 0;
    for (int i = 0; i < K; ++i) {
      const real ks = ip * s * k[i];
      for (int j = 0; j < K; ++j) Cn[i * K + j] = fp * Cp[i * K + j] + ks * v[j];
      nn[i] = fp * np[i] + ks;
      d += nn[i] * q[i];
    }
    const real den = std::max(std::abs(d), std::exp(-mt));
    real* o = out + t * out_stride;
    for (int j = 0; j < K; ++j) {
      real num = 0;
      for (int i = 0; i < K; ++i) num += Cn[i * K + j] * q[i];
      o[j] = num / den;
    }
  }
}

void MLSTMMixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_, D = D_, H = H_;
  const Index rows = Index(B) * T;
  const int64_t S = state_size();
  const real* xc = conv_ ? xc_.data() : x_.data();

  du_.resize(rows * D);
  o_proj_->apply_backward(u_.data(), dy, du_.data(), rows, false);
  // u = (hn + skip xc) silu(gp)
  dgp_.resize(rows * D), dhn_.resize(rows * D), dxc_.resize(rows * D);
  const real* skip = skip_.data();
  parallel_reduce_rows(rows, D, skip_.grad(), scratch_, 16 * rows * D, [&](Index r0, Index r1, real* part) {
    for (Index r = r0; r < r1; ++r)
      for (int j = 0; j < D; ++j) {
        const Index i = r * D + j;
        const real g = gp_[i], sg = sigmoid(g);
        const real pre = hn_[i] + skip[j] * xc[i];
        dgp_[i] = du_[i] * pre * silu_grad_from_sigmoid(g, sg);
        const real ds = du_[i] * g * sg;
        dhn_[i] = ds;
        dxc_[i] = ds * skip[j];
        part[j] += ds * xc[i];
      }
  });
  outnorm_->backward(dhn_.data(), dhn_.data());  // dhn_ now holds dL/dh~

  const Index KK = Index(K_) * K_;
  dq_.resize(rows * D), dk_.resize(rows * D), dv_.resize(rows * D);
  dig_.resize(rows * H), dfg_.resize(rows * H);
  ws_.resize(size_t(B) * H * (KK + 2 * K_));
  for_each_sequence(B * H, Index(B) * H * T * KK * 6, [&](int bh) {
    const int b = bh / H;
    recurrence_backward(bh, dstate_out ? dstate_out + b * S : nullptr, dstate_in ? dstate_in + b * S : nullptr);
  });
  // gate biases: column sums in row order
  real* gib = igate_bias_.grad();
  real* gfb = fgate_bias_.grad();
  for (Index r = 0; r < rows; ++r)
    for (int h = 0; h < H; ++h) {
      gib[h] += dig_[r * H + h];
      gfb[h] += dfg_[r * H + h];
    }
  dqkv_.resize(rows * 3 * D);
  igate_->apply_backward(qkv_.data(), dig_.data(), dqkv_.data(), rows, false);
  fgate_->apply_backward(qkv_.data(), dfg_.data(), dqkv_.data(), rows, true);
  for (Index r = 0; r < rows; ++r)
    for (int j = 0; j < D; ++j) {
      dq_[r * D + j] += dqkv_[r * 3 * D + j];
      dk_[r * D + j] += dqkv_[r * 3 * D + D + j];
      dv_[r * D + j] += dqkv_[r * 3 * D + 2 * D + j];
    }
  q_proj_->apply_backward(xc, dq_.data(), dxc_.data(), rows, true);
  k_proj_->apply_backward(xc, dk_.data(), dxc_.data(), rows, true);
  g_proj_->apply_backward(x_.data(), dgp_.data(), dx, rows, false);
  v_proj_->apply_backward(x_.data(), dv_.data(), dx, rows, true);
  if (conv_) {
    packed_conv_->backward_accumulate(dxc_.data(), dstate_out, dx, dstate_in);
  } else {
    for (Index i = 0; i < rows * D; ++i) dx[i] += dxc_[i];
  }
}

void MLSTMMixer::recurrence_backward(int bh, const real* dso, real* dsi) {
  const int T = T_, H = H_, K = K_, D = D_;
  const int b = bh / H, h = bh % H;
  const Index KK = Index(K) * K;
  const real* C = C_.data() + size_t(bh) * (T + 1) * KK;
  const real* n = n_.data() + size_t(bh) * (T + 1) * K;
  const real* m = m_.data() + size_t(bh) * (T + 1);
  real* dC = ws_.data() + size_t(bh) * (KK + 2 * K);  // [K, K]
  real* dn = dC + KK;                                  // [K]
  real* tmp = dn + K;                                  // [K] dC v
  real dm = 0;
  if (dso) {
    std::copy_n(dso + h * KK, KK, dC);
    std::copy_n(dso + H * KK + h * K, K, dn);
    dm = dso[H * KK + H * K + h];
  } else {
    std::fill_n(dC, KK, real(0));
    std::fill_n(dn, K, real(0));
  }
  const real s = static_cast<real>(1.0 / std::sqrt(double(K)));
  for (int t = T - 1; t >= 0; --t) {
    const Index row = Index(b) * T + t;
    const real* q = q_.data() + row * D + h * K;
    const real* k = k_.data() + row * D + h * K;
    const real* v = v_.data() + row * D + h * K;
    const real* dh = dhn_.data() + row * D + h * K;
    real* dq = dq_.data() + row * D + h * K;
    real* dk = dk_.data() + row * D + h * K;
    real* dv = dv_.data() + row * D + h * K;
    const real ig = ig_[row * H + h], fg = fg_[row * H + h];
    const real a = log_sigmoid(fg) + m[t], mt = m[t + 1];
    const real fp = std::exp(a - mt), ip = std::exp(ig - mt);
    const real* Cp = C + t * KK;
    const real* Cn = C + (t + 1) * KK;
    const real* np = n + Index(t) * K;
    const real* nn = n + Index(t + 1) * K;

    real d = 0;
    for (int i = 0; i < K; ++i) d += nn[i] * q[i];
    const real e = std::exp(-mt);
    const real den = std::max(std::abs(d), e);
    // <dh~, h~> = <dh~, C_t^T q> / den
    real dot = 0;
    for (int i = 0; i < K; ++i) {
      real cdh = 0;  // (C_t dh~)_i
      for (int j = 0; j < K; ++j) cdh += Cn[i * K + j] * dh[j];
      tmp[i] = cdh;
      dot += q[i] * cdh;
    }
    const real dden = -dot / (den * den);
    real dd = 0, dm_t = dm;
    if (std::abs(d) >= e)
      dd = d >= 0 ? dden : -dden;
    else
      dm_t -= dden * e;
    for (int i = 0; i < K; ++i) dq[i] = tmp[i] / den + dd * nn[i];
    for (int i = 0; i < K; ++i) {
      for (int j = 0; j < K; ++j) dC[i * K + j] += q[i] * dh[j] / den;
      dn[i] += dd * q[i];
    }
    // through C_t = f' C_{t-1} + i' s k v^T and n_t = f' n_{t-1} + i' s k
    real dfp = 0, dip = 0;
    for (int i = 0; i < K; ++i) {
      real dcv = 0;
      for (int j = 0; j < K; ++j) {
        dfp += dC[i * K + j] * Cp[i * K + j];
        dcv += dC[i * K + j] * v[j];
      }
      dfp += dn[i] * np[i];
      dip += s * k[i] * (dcv + dn[i]);
      dk[i] = ip * s * (dcv + dn[i]);
    }
    for (int j = 0; j < K; ++j) {
      real acc = 0;
      for (int i = 0; i < K; ++i) acc += dC[i * K + j] * k[i];
      dv[j] = ip * s * acc;
    }
    for (Index i = 0; i < KK; ++i) dC[i] *= fp;
    for (int i = 0; i < K; ++i) dn[i] *= fp;
    // f' = exp(a - m_t), i' = exp(i~ - m_t), m_t = max(a, i~)
    dm_t -= dfp * fp + dip * ip;
    real da = dfp * fp, dig = dip * ip;
    if (a >= ig)
      da += dm_t;
    else
      dig += dm_t;
    dig_[row * H + h] = dig;
    dfg_[row * H + h] = da * log_sigmoid_grad(fg);
    dm = da;  // a = log sigmoid(f~) + m_{t-1}
  }
  if (dsi) {
    std::copy_n(dC, KK, dsi + h * KK);
    std::copy_n(dn, K, dsi + H * KK + h * K);
    dsi[H * KK + H * K + h] = dm;
  }
}

const MixerEntry mlstm_mixer_entry{
    "mlstm",
    "xLSTM mLSTM: matrix memory with exponential input gate, sigmoid forget gate and stabiliser",
    {
        {"num_heads", int64_t{4}, "heads H (head dim K = V = d_model / H)"},
        {"use_short_conv", true, "causal depthwise convolution + SiLU before the q/k projections (xLSTM's conv1d)"},
        {"conv_size", int64_t{4}, "short convolution kernel size"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<MLSTMMixer>(d_model, o, a);
    },
    {
        {},
        {{"use_short_conv", false}, {"num_heads", int64_t{2}}},
        {{"conv_size", int64_t{2}}, {"num_heads", int64_t{1}}},
    },
};

}  // namespace db
