#!/usr/bin/env python3
"""torch_train_step.py: the CPU training step of bench_train_step in plain PyTorch, as its peer.

The MQAR reference model (bench/model_flops.h): an fla-style language model, width D (default 128),
2 layers, 2 heads, SwiGLU MLP (fla's hidden size), RMSNorm blocks, untied head, vocabulary 8192;
B 64, T 256, cross-entropy at every position, AdamW. Its mixer (--mixer) is one of
  * deltanet: short convolution 4 + SiLU on q, k and v, L2-normalised q and k, beta = sigmoid(b_proj x),
    the delta rule in the chunkwise form (chunks of 64, the WY/UT representation), per-head RMSNorm;
  * gated_deltanet: the same with a scalar forget gate g = -exp(A_log) softplus(a_proj x + dt_bias)
    and the output gate RMSNorm(o) * SiLU(g_proj x);
  * linear_attention: the deltanet layer with the additive update (no beta), chunkwise;
  * softmax_attention: causal multi-head attention (scaled_dot_product_attention).
The recurrences' backward comes from autograd, written as a PyTorch user would write it; no fla, no
compilation. --d, --vocab and --seq give bench_train_step's TrainStepSmall shape (64, 512, 128).
Run it where PyTorch is installed, on the same machine as `build/bench_train_step`, in the same
command, so the ratio compares like with like:

    python3 bench/peers/torch_train_step.py --threads 2,16 [--d 128] [--mixer deltanet,gated_deltanet]

It prints one line per measurement, `name value unit`:
  * train_step/<mixer>/threads<n>/d<D>[/v<V>/t<T>] tokens/s: zero_grad, forward with loss, backward, AdamW step
  * head_gemm/threads<n> GFLOP/s: the LM head's product [B*T, D] x [D, V] in fp32, the GEMM rate
    the step is measured against
Timing: wall clock over `reps` steps after `warmup` steps, torch.set_num_threads(n) per thread count.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

B, HEADS, LAYERS, CHUNK = 64, 2, 2, 64


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class ShortConv(nn.Module):
    """Causal depthwise convolution over time, then SiLU; x [B, T, C]."""

    def __init__(self, channels, size=4):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, size, groups=channels, padding=size - 1, bias=False)

    def forward(self, x):
        return F.silu(self.conv(x.transpose(1, 2))[..., :x.shape[1]].transpose(1, 2))


def chunk_delta_rule(q, k, v, beta, g=None, chunk=CHUNK):
    """o for S_t = a_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = S_t^T q_t / sqrt(K), with
    a_t = exp(g_t) (g None: a_t = 1, and no gate work is done). q, k, v [B, H, T, K]; beta, g [B, H, T].
    Within a chunk, with G the running sum of g, the writes are W = (I + A)^-1 (beta K exp(G)) and
    U = (I + A)^-1 beta V, where A = tril(beta K K^T exp(G_i - G_j), -1) (a triangular solve); across
    chunks the state is carried."""
    b, h, t, d = q.shape
    gated = g is not None
    pad = (-t) % chunk
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        beta = F.pad(beta, (0, pad))
        g = F.pad(g, (0, pad)) if gated else None
    n = (t + pad) // chunk
    q, k, v = (x.reshape(b, h, n, chunk, d) for x in (q, k, v))
    q = q * d ** -0.5
    beta = beta.reshape(b, h, n, chunk, 1)
    causal = torch.ones(chunk, chunk, dtype=torch.bool).tril()
    k_beta, v_beta = k * beta, v * beta
    eye = torch.eye(chunk, dtype=q.dtype)
    if gated:
        G = g.reshape(b, h, n, chunk).cumsum(-1)
        decay = (G[..., :, None] - G[..., None, :]).masked_fill(~causal, float("-inf")).exp()  # exp(G_i - G_j)
        lower = torch.tril(k_beta @ k.transpose(-1, -2) * decay, diagonal=-1)
        w_rhs = k_beta * G.exp()[..., None]
    else:
        lower = torch.tril(k_beta @ k.transpose(-1, -2), diagonal=-1)
        w_rhs = k_beta
    w = torch.linalg.solve_triangular(eye + lower, w_rhs, upper=False, unitriangular=True)
    u = torch.linalg.solve_triangular(eye + lower, v_beta, upper=False, unitriangular=True)
    state = q.new_zeros(b, h, d, d)
    outputs = []
    for i in range(n):
        qi, ki = q[:, :, i], k[:, :, i]
        new_values = u[:, :, i] - w[:, :, i] @ state
        scores = qi @ ki.transpose(-1, -2)
        if gated:
            Gi = G[:, :, i]
            last = Gi[..., -1:]
            outputs.append((qi * Gi.exp()[..., None]) @ state + (scores * decay[:, :, i]) @ new_values)
            state = state * last.exp()[..., None] + (ki * (last - Gi).exp()[..., None]).transpose(-1, -2) @ new_values
        else:
            outputs.append(qi @ state + scores.masked_fill(~causal, 0) @ new_values)
            state = state + ki.transpose(-1, -2) @ new_values
    return torch.stack(outputs, dim=2).reshape(b, h, n * chunk, d)[:, :, :t]


def chunk_linear_attention(q, k, v, chunk=CHUNK):
    """o for S_t = S_{t-1} + k_t v_t^T, o_t = S_t^T q_t / sqrt(K), chunkwise."""
    b, h, t, d = q.shape
    pad = (-t) % chunk
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
    n = (t + pad) // chunk
    q, k, v = (x.reshape(b, h, n, chunk, d) for x in (q, k, v))
    q = q * d ** -0.5
    causal = torch.ones(chunk, chunk, dtype=torch.bool).tril()
    state = q.new_zeros(b, h, d, d)
    outputs = []
    for i in range(n):
        qi, ki, vi = q[:, :, i], k[:, :, i], v[:, :, i]
        outputs.append(qi @ state + (qi @ ki.transpose(-1, -2)).masked_fill(~causal, 0) @ vi)
        state = state + ki.transpose(-1, -2) @ vi
    return torch.stack(outputs, dim=2).reshape(b, h, n * chunk, d)[:, :, :t]


def recurrent_delta_rule(q, k, v, beta, g):
    """The same recurrence token by token (--check compares the chunkwise form with it)."""
    b, h, t, d = q.shape
    state = q.new_zeros(b, h, d, v.shape[-1])
    outputs = []
    for i in range(t):
        ki, bi = k[:, :, i], beta[:, :, i, None, None]
        state = state * g[:, :, i, None, None].exp()
        state = state - bi * ki[..., :, None] * (ki[..., None, :] @ state) + bi * ki[..., :, None] * v[:, :, i, None, :]
        outputs.append((q[:, :, i, None, :] @ state).squeeze(-2) * d ** -0.5)
    return torch.stack(outputs, dim=2)


class DeltaNetMixer(nn.Module):
    """deltanet, gated_deltanet (gated) or linear_attention (additive)."""

    def __init__(self, d_model, heads=HEADS, gated=False, additive=False):
        super().__init__()
        self.heads, self.head_dim, self.gated, self.additive = heads, d_model // heads, gated, additive
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d_model, d_model, bias=False) for _ in range(3))
        if not additive:
            self.b_proj = nn.Linear(d_model, heads, bias=False)
        if gated:
            self.a_proj = nn.Linear(d_model, heads, bias=False)
            self.A_log = nn.Parameter(torch.log(torch.empty(heads).uniform_(1, 16)))
            self.dt_bias = nn.Parameter(torch.zeros(heads))
            self.g_proj = nn.Linear(d_model, d_model, bias=False)
        self.q_conv, self.k_conv, self.v_conv = (ShortConv(d_model) for _ in range(3))
        self.o_norm = RMSNorm(self.head_dim)
        self.o_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x):
        b, t, _ = x.shape

        def heads(y):
            return y.view(b, t, self.heads, self.head_dim).transpose(1, 2)

        q = F.normalize(heads(self.q_conv(self.q_proj(x))), dim=-1)
        k = F.normalize(heads(self.k_conv(self.k_proj(x))), dim=-1)
        v = heads(self.v_conv(self.v_proj(x)))
        if self.additive:
            o = chunk_linear_attention(q, k, v)
        else:
            beta = torch.sigmoid(self.b_proj(x)).transpose(1, 2)
            g = None
            if self.gated:
                g = (-self.A_log.exp() * F.softplus(self.a_proj(x) + self.dt_bias)).transpose(1, 2)
            o = chunk_delta_rule(q, k, v, beta, g)
        o = self.o_norm(o)
        if self.gated:
            o = o * F.silu(heads(self.g_proj(x)))
        return self.o_proj(o.transpose(1, 2).reshape(b, t, -1))


class SoftmaxAttentionMixer(nn.Module):
    def __init__(self, d_model, heads=HEADS):
        super().__init__()
        self.heads, self.head_dim = heads, d_model // heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d_model, d_model, bias=False) for _ in range(4))

    def forward(self, x):
        b, t, _ = x.shape

        def heads(y):
            return y.view(b, t, self.heads, self.head_dim).transpose(1, 2)

        o = F.scaled_dot_product_attention(heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x)),
                                           is_causal=True)
        return self.o_proj(o.transpose(1, 2).reshape(b, t, -1))


MIXERS = {
    "deltanet": lambda d: DeltaNetMixer(d),
    "gated_deltanet": lambda d: DeltaNetMixer(d, gated=True),
    "linear_attention": lambda d: DeltaNetMixer(d, additive=True),
    "softmax_attention": lambda d: SoftmaxAttentionMixer(d),
}


class SwiGLU(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        hidden = 256 * math.ceil(int(d_model * 4 * 2 / 3) / 256)  # fla's intermediate_size rule
        self.gate_proj = nn.Linear(d_model, hidden, bias=False)
        self.up_proj = nn.Linear(d_model, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, d_model, mixer):
        super().__init__()
        self.attn_norm, self.attn = RMSNorm(d_model), MIXERS[mixer](d_model)
        self.mlp_norm, self.mlp = RMSNorm(d_model), SwiGLU(d_model)

    def forward(self, x):
        x = x + self.attn(self.attn_norm(x))
        return x + self.mlp(self.mlp_norm(x))


class LanguageModel(nn.Module):
    def __init__(self, d_model, vocab, mixer):
        super().__init__()
        self.vocab = vocab
        self.embeddings = nn.Embedding(vocab, d_model)
        self.layers = nn.ModuleList(Block(d_model, mixer) for _ in range(LAYERS))
        self.norm = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens, targets):
        x = self.embeddings(tokens)
        for layer in self.layers:
            x = layer(x)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.view(-1, self.vocab), targets.view(-1))


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def train_step_rate(mixer, d_model, vocab, seq, warmup, reps):
    torch.manual_seed(3)
    model = LanguageModel(d_model, vocab, mixer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    tokens = torch.randint(0, vocab, (B, seq))
    targets = torch.randint(0, vocab, (B, seq))

    def step():
        optimizer.zero_grad(set_to_none=True)
        model(tokens, targets).backward()
        optimizer.step()

    return B * seq / timed(step, warmup, reps)


def head_gemm_rate(d_model, vocab, seq, reps):
    x, w = torch.randn(B * seq, d_model), torch.randn(d_model, vocab)
    seconds = timed(lambda: x @ w, 2, reps)
    return 2.0 * B * seq * d_model * vocab / seconds * 1e-9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="2", help="comma-separated thread counts")
    parser.add_argument("--d", type=int, default=128, help="model width")
    parser.add_argument("--vocab", type=int, default=8192, help="vocabulary size")
    parser.add_argument("--seq", type=int, default=256, help="sequence length T")
    parser.add_argument("--mixer", default="deltanet", help="comma-separated: " + ", ".join(MIXERS))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="compare the chunkwise form with the recurrence first")
    args = parser.parse_args()
    mixers = args.mixer.split(",")
    for mixer in mixers:
        if mixer not in MIXERS:
            parser.error(f"unknown mixer {mixer!r} (one of {', '.join(MIXERS)})")
    if args.check:
        torch.manual_seed(0)
        q, k = (F.normalize(torch.randn(2, 2, 37, 16, dtype=torch.float64), dim=-1) for _ in range(2))
        v, beta = torch.randn(2, 2, 37, 16, dtype=torch.float64), torch.rand(2, 2, 37, dtype=torch.float64)
        g = -torch.rand(2, 2, 37, dtype=torch.float64)
        for name, gate in (("ungated", None), ("gated", g)):
            chunked = chunk_delta_rule(q, k, v, beta, gate, chunk=16)
            reference = recurrent_delta_rule(q, k, v, beta, torch.zeros_like(g) if gate is None else gate)
            error = (chunked - reference).abs().max().item()
            print(f"# check: chunkwise vs recurrent delta rule ({name}), T 37 in chunks of 16, float64: "
                  f"max |difference| {error:.3g}")
            if error > 1e-10:
                raise SystemExit("the chunkwise form does not match the recurrence")
        quadratic = ((q @ k.transpose(-1, -2)).tril() @ v) * q.shape[-1] ** -0.5  # sum over s <= t of (q_t . k_s) v_s
        error = (chunk_linear_attention(q, k, v, chunk=16) - quadratic).abs().max().item()
        print(f"# check: chunkwise vs quadratic linear attention, float64: max |difference| {error:.3g}")
        if error > 1e-10:
            raise SystemExit("the chunkwise linear attention does not match its quadratic form")
    print(f"# torch {torch.__version__}, {torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'}", flush=True)
    shape = f"d{args.d}" if (args.vocab, args.seq) == (8192, 256) else f"d{args.d}/v{args.vocab}/t{args.seq}"
    for n in (int(x) for x in args.threads.split(",")):
        torch.set_num_threads(n)
        print(f"head_gemm/threads{n} {head_gemm_rate(args.d, args.vocab, args.seq, 20):.1f} GFLOP/s", flush=True)
        for mixer in mixers:
            rate = train_step_rate(mixer, args.d, args.vocab, args.seq, args.warmup, args.reps)
            print(f"train_step/{mixer}/threads{n}/{shape} {rate:.0f} tokens/s", flush=True)


if __name__ == "__main__":
    main()
