// slstm.cpp: the xLSTM sLSTM cell as a token mixer (see the header for the math and the choices).
//
// Backward through time of one (batch, head) sequence, walking t in reverse with the carries
// dh = dL/dh_t arriving through R, dc, dn, dm (from dstate_out at t = T), per cell:
//   dh_t = dy_t + dh;   do = dh_t c/n;   dc_t = dc + dh_t o/n;   dn_t = dn - dh_t h/n
//   df' = dc_t c_{t-1} + dn_t n_{t-1};   di' = dc_t z + dn_t;   dz = dc_t i'
//   dc, dn = f' dc_t, f' dn_t                    (to t-1)
//   dm_t = dm - df' f' - di' i';  da = df' f';  di~ = di' i';  dm_t goes to the larger of a, i~
//   df~ = da sigmoid(-f~);  dm = da (to t-1);  dz~ = dz (1 - z^2);  do~ = do o (1 - o)
//   dh (to t-1) = sum_g R_g^T dg~,   dR_g += dg~ h_{t-1}^T   (summed after the loop, in fixed order)
#include "models/mixers/slstm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/mixers/xlstm_common.h"
#include "models/numerics/activations.h"
#include "models/numerics/parallel.h"

namespace db {

namespace {

enum Gate { kI = 0, kF = 1, kZ = 2, kO = 3 };

template <class F>
void for_each_sequence(int n, Index work, F&& f) {
  if (worth_a_parallel_region(n, work)) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; ++i) f(i);
  } else {
    for (int i = 0; i < n; ++i) f(i);
  }
}

// xLSTM's "powerlaw_blockdependent" forget bias of the first block (ratio 0): 5 - 12 (j/(K-1))^0.3
// for the K cells of each head; the other three gates start at zero. Layout [4, H*K], gate-major.
ParamInit slstm_bias_init(int heads, int head_dim) {
  return ParamInit::custom([heads, head_dim](real* d, size_t n, Rng&) {
    std::fill_n(d, n, real(0));
    const int D = heads * head_dim;
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < head_dim; ++j) {
        const double r = head_dim > 1 ? double(j) / double(head_dim - 1) : 0.0;
        d[kF * D + h * head_dim + j] = static_cast<real>(5.0 - 12.0 * std::pow(r, 0.3));
      }
  });
}

}  // namespace

SLSTMMixer::SLSTMMixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model), H_(static_cast<int>(o.get_int("num_heads"))) {
  const XlstmShape shape = xlstm_shape(d_model, o);
  K_ = shape.head_dim, W_ = shape.conv_width;
  const double std = 0.02;
  if (W_ > 0) {
    conv_ = std::make_unique<ShortConv>(arena, "conv1d", D_, W_, /*silu=*/true, std);
    packed_conv_ = std::make_unique<PackedStateConv>(*conv_);
  }
  const char* names[4] = {"igate", "fgate", "zgate", "ogate"};
  for (int g = 0; g < 4; ++g) gate_[g] = std::make_unique<Linear>(arena, names[g], D_, D_, false, std);
  {
    ParamArena::Scope scope(arena, "cell");
    R_ = arena.add("recurrent_kernel", {4, H_, K_, K_}, ParamInit::zeros());
    bias_ = arena.add("bias", {4, D_}, slstm_bias_init(H_, K_), /*weight_decay=*/false);
  }
  norm_ = std::make_unique<MultiHeadLayerNorm>(arena, "group_norm", H_, K_, 1e-5);
  if (o.get_bool("use_out_proj")) o_proj_ = std::make_unique<Linear>(arena, "o_proj", D_, D_, false, std);
}

int64_t SLSTMMixer::state_size() const { return int64_t{4} * D_ + (W_ > 0 ? int64_t(W_ - 1) * D_ : 0); }

void slstm_head_forward(const SLSTMHeadInputs& in, real* const raw[4], real* h, real* c, real* n, real* m) {
  const int T = in.T, K = in.K;
  for (int t = 0; t < T; ++t) {
    const real* hp = h + Index(t) * K;
    real* pre[4];
    for (int g = 0; g < 4; ++g) {
      pre[g] = raw[g] + t * in.stride;
      const real* wx = in.wx[g] + t * in.stride;
      const real* R = in.R[g];
      for (int j = 0; j < K; ++j) {
        real acc = wx[j] + in.bias[g][j];
        for (int l = 0; l < K; ++l) acc += R[j * K + l] * hp[l];
        pre[g][j] = acc;
      }
    }
    for (int j = 0; j < K; ++j) {
      const real ir = pre[kI][j], fr = pre[kF][j];
      const real a = log_sigmoid(fr) + m[t * K + j];
      const real mt = std::max(a, ir);
      const real fp = std::exp(a - mt), ip = std::exp(ir - mt);
      const real z = std::tanh(pre[kZ][j]), og = sigmoid(pre[kO][j]);
      const real cn = fp * c[t * K + j] + ip * z;
      const real nn = fp * n[t * K + j] + ip;
      const Index at = Index(t + 1) * K + j;
      c[at] = cn, n[at] = nn, m[at] = mt;
      h[at] = og * cn / nn;
    }
  }
}

void SLSTMMixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  B_ = B, T_ = T;
  const Index rows = Index(B) * T;
  const int D = D_, H = H_, K = K_;
  const int64_t S = state_size(), cell = int64_t{4} * D;
  x_.assign(x, x + rows * D);
  const real* xc = x;
  if (conv_) {
    xc_.resize(rows * D);
    packed_conv_->forward(x, xc_.data(), B, T, state_in, state_out, S, cell);
    xc = xc_.data();
  }
  for (int g = 0; g < 4; ++g) {
    wx_[g].resize(rows * D), raw_[g].resize(rows * D);
    gate_[g]->apply(g == kI || g == kF ? xc : x, wx_[g].data(), rows);
  }
  const size_t per = size_t(T + 1) * K;
  hs_.resize(size_t(B) * H * per), cs_.resize(hs_.size()), ns_.resize(hs_.size()), ms_.resize(hs_.size());
  hcell_.resize(rows * D);
  for_each_sequence(B * H, Index(B) * H * T * K * K * 8, [&](int bh) {
    recurrence_forward(bh, state_in ? state_in + (bh / H) * S : nullptr);
  });
  if (state_out)
    for (int bh = 0; bh < B * H; ++bh) {
      const int b = bh / H, h = bh % H;
      const size_t last = size_t(bh) * per + size_t(T) * K;
      real* st = state_out + b * S + h * K;
      std::copy_n(hs_.data() + last, K, st);
      std::copy_n(cs_.data() + last, K, st + D);
      std::copy_n(ns_.data() + last, K, st + 2 * D);
      std::copy_n(ms_.data() + last, K, st + 3 * D);
    }
  if (o_proj_) {
    gn_.resize(rows * D);
    norm_->forward(hcell_.data(), gn_.data(), rows);
    o_proj_->apply(gn_.data(), y, rows);
  } else {
    norm_->forward(hcell_.data(), y, rows);
  }
}

void SLSTMMixer::recurrence_forward(int bh, const real* st) {
  const int T = T_, H = H_, K = K_, D = D_;
  const int b = bh / H, hd = bh % H;
  const size_t per = size_t(T + 1) * K;
  real* h = hs_.data() + bh * per;
  real* c = cs_.data() + bh * per;
  real* n = ns_.data() + bh * per;
  real* m = ms_.data() + bh * per;
  if (st) {
    std::copy_n(st + hd * K, K, h);
    std::copy_n(st + D + hd * K, K, c);
    std::copy_n(st + 2 * D + hd * K, K, n);
    std::copy_n(st + 3 * D + hd * K, K, m);
  } else {
    std::fill_n(h, K, real(0)), std::fill_n(c, K, real(0)), std::fill_n(n, K, real(0)), std::fill_n(m, K, real(0));
  }
  SLSTMHeadInputs in;
  in.T = T, in.K = K, in.stride = D;
  const Index first = Index(b) * T * D + Index(hd) * K;
  real* raw[4];
  const Index KK = Index(K) * K;
  for (int g = 0; g < 4; ++g) {
    in.wx[g] = wx_[g].data() + first;
    in.R[g] = R_.data() + (Index(g) * H + hd) * KK;
    in.bias[g] = bias_.data() + g * D + hd * K;
    raw[g] = raw_[g].data() + first;
  }
  slstm_head_forward(in, raw, h, c, n, m);
  for (int t = 0; t < T; ++t) std::copy_n(h + Index(t + 1) * K, K, hcell_.data() + first + Index(t) * D);
}

void SLSTMMixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_, D = D_, H = H_, K = K_;
  const Index rows = Index(B) * T;
  const int64_t S = state_size();
  dgn_.resize(rows * D);
  if (o_proj_)
    o_proj_->apply_backward(gn_.data(), dy, dgn_.data(), rows, false);
  else
    std::copy_n(dy, rows * D, dgn_.data());
  norm_->backward(dgn_.data(), dgn_.data());  // dgn_ now holds dL/dh_t from the output
  for (int g = 0; g < 4; ++g) draw_[g].resize(rows * D);
  ws_.resize(size_t(B) * H * 5 * K);
  for_each_sequence(B * H, Index(B) * H * T * K * K * 16, [&](int bh) {
    const int b = bh / H;
    recurrence_backward(bh, dstate_out ? dstate_out + b * S : nullptr, dstate_in ? dstate_in + b * S : nullptr);
  });

  // dR_g[h] = sum over (b, t) of dg~_t h_{t-1}^T, one (gate, head) block per task, b and t in order
  const Index KK = Index(K) * K;
  const size_t per = size_t(T + 1) * K;
  for_each_sequence(4 * H, Index(4) * rows * D * K, [&](int gh) {
    const int g = gh / H, hd = gh % H;
    real* dR = R_.grad() + Index(gh) * KK;
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) {
        const real* dg = draw_[g].data() + (Index(b) * T + t) * D + Index(hd) * K;
        const real* hp = hs_.data() + size_t(b * H + hd) * per + size_t(t) * K;
        for (int j = 0; j < K; ++j)
          for (int l = 0; l < K; ++l) dR[j * K + l] += dg[j] * hp[l];
      }
  });
  real* gb = bias_.grad();
  for (int g = 0; g < 4; ++g)
    for (Index r = 0; r < rows; ++r)
      for (int j = 0; j < D; ++j) gb[g * D + j] += draw_[g][r * D + j];

  // W_g: i and f read xc, z and o read x
  const real* xc = conv_ ? xc_.data() : x_.data();
  dxc_.resize(rows * D);
  gate_[kI]->apply_backward(xc, draw_[kI].data(), dxc_.data(), rows, false);
  gate_[kF]->apply_backward(xc, draw_[kF].data(), dxc_.data(), rows, true);
  gate_[kZ]->apply_backward(x_.data(), draw_[kZ].data(), dx, rows, false);
  gate_[kO]->apply_backward(x_.data(), draw_[kO].data(), dx, rows, true);
  if (conv_) {
    packed_conv_->backward_accumulate(dxc_.data(), dstate_out, dx, dstate_in);
  } else {
    for (Index i = 0; i < rows * D; ++i) dx[i] += dxc_[i];
  }
}

void SLSTMMixer::recurrence_backward(int bh, const real* dso, real* dsi) {
  const int T = T_, H = H_, K = K_, D = D_;
  const int b = bh / H, hd = bh % H;
  const size_t per = size_t(T + 1) * K;
  const Index KK = Index(K) * K;
  const real* hs = hs_.data() + bh * per;
  const real* cs = cs_.data() + bh * per;
  const real* ns = ns_.data() + bh * per;
  const real* ms = ms_.data() + bh * per;
  real* dh = ws_.data() + size_t(bh) * 5 * K;  // [K] dL/dh_t through R (from step t+1)
  real* dc = dh + K;                            // [K]
  real* dn = dc + K;                            // [K]
  real* dm = dn + K;                            // [K]
  real* dht = dm + K;                           // [K] scratch
  if (dso) {
    std::copy_n(dso + hd * K, K, dh);
    std::copy_n(dso + D + hd * K, K, dc);
    std::copy_n(dso + 2 * D + hd * K, K, dn);
    std::copy_n(dso + 3 * D + hd * K, K, dm);
  } else {
    std::fill_n(dh, 4 * K, real(0));
  }
  const real* R[4];
  for (int g = 0; g < 4; ++g) R[g] = R_.data() + (Index(g) * H + hd) * KK;
  for (int t = T - 1; t >= 0; --t) {
    const Index off = (Index(b) * T + t) * D + Index(hd) * K;
    const real* dy = dgn_.data() + off;
    for (int j = 0; j < K; ++j) dht[j] = dy[j] + dh[j];
    real* dpre[4];
    for (int g = 0; g < 4; ++g) dpre[g] = draw_[g].data() + off;
    for (int j = 0; j < K; ++j) {
      const Index prev = Index(t) * K + j, now = prev + K;
      const real ir = raw_[kI][off + j], fr = raw_[kF][off + j];
      const real a = log_sigmoid(fr) + ms[prev], mt = ms[now];
      const real fp = std::exp(a - mt), ip = std::exp(ir - mt);
      const real z = std::tanh(raw_[kZ][off + j]), og = sigmoid(raw_[kO][off + j]);
      const real cn = cs[now], nn = ns[now], hn = hs[now];
      const real d_o = dht[j] * cn / nn;
      const real dct = dc[j] + dht[j] * og / nn;
      const real dnt = dn[j] - dht[j] * hn / nn;
      const real dfp = dct * cs[prev] + dnt * ns[prev];
      const real dip = dct * z + dnt;
      const real dz = dct * ip;
      dc[j] = fp * dct;
      dn[j] = fp * dnt;
      const real dmt = dm[j] - dfp * fp - dip * ip;
      real da = dfp * fp, di = dip * ip;
      if (a >= ir)
        da += dmt;
      else
        di += dmt;
      dm[j] = da;
      dpre[kI][j] = di;
      dpre[kF][j] = da * log_sigmoid_grad(fr);
      dpre[kZ][j] = dz * (1 - z * z);
      dpre[kO][j] = d_o * og * (1 - og);
    }
    // dh_{t-1} = sum_g R_g^T dg~
    for (int l = 0; l < K; ++l) dh[l] = 0;
    for (int g = 0; g < 4; ++g)
      for (int j = 0; j < K; ++j) {
        const real dg = dpre[g][j];
        for (int l = 0; l < K; ++l) dh[l] += R[g][j * K + l] * dg;
      }
  }
  if (dsi) {
    std::copy_n(dh, K, dsi + hd * K);
    std::copy_n(dc, K, dsi + D + hd * K);
    std::copy_n(dn, K, dsi + 2 * D + hd * K);
    std::copy_n(dm, K, dsi + 3 * D + hd * K);
  }
}

const MixerEntry slstm_mixer_entry{
    "slstm",
    "xLSTM sLSTM: scalar memory cells with exponential input gate, normaliser, stabiliser and head-wise "
    "recurrent weights",
    {
        {"num_heads", int64_t{4}, "heads H (cells mix through R only inside a head of d_model / H)"},
        {"use_short_conv", true, "causal depthwise convolution + SiLU before the i and f gates (xLSTM's conv1d)"},
        {"conv_size", int64_t{4}, "short convolution kernel size"},
        {"use_out_proj", false, "a [D, D] output projection after the group norm (the sLSTM layer has none)"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<SLSTMMixer>(d_model, o, a);
    },
    {
        {},
        {{"use_short_conv", false}, {"num_heads", int64_t{2}}, {"use_out_proj", true}},
        {{"conv_size", int64_t{2}}, {"num_heads", int64_t{1}}},
    },
};

}  // namespace db
