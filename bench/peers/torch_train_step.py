#!/usr/bin/env python3
"""torch_train_step.py: the CPU training step of bench_train_step in plain PyTorch, as its peer.

The MQAR reference model (bench/model_flops.h): an fla-style DeltaNet language model, width D
(default 128), 2 layers, 2 heads, short convolution 4 + SiLU on q, k and v, L2-normalised q and k,
beta = sigmoid(b_proj x), per-head RMSNorm on the output, SwiGLU MLP (fla's hidden size), RMSNorm
blocks, untied head, vocabulary 8192; B 64, T 256, cross-entropy at every position, AdamW. The delta
rule runs in the chunkwise form (chunks of 64, the WY/UT representation) with autograd for the
backward, written as a PyTorch user would write it; no fla, no compilation. Run it where PyTorch is
installed, on the same machine as `build/bench_train_step`, in the same command, so the ratio
compares like with like:

    python3 bench/peers/torch_train_step.py --threads 2,16 [--d 128] [--reps 5]

It prints one line per measurement, `name value unit`:
  * train_step/threads<n>/d<D> tokens/s: zero_grad, forward with loss, backward, AdamW step
  * head_gemm/threads<n> GFLOP/s: the LM head's product [B*T, D] x [D, 8192] in fp32, the GEMM rate
    the step is measured against
Timing: wall clock over `reps` steps after `warmup` steps, torch.set_num_threads(n) per thread count.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, B, T, HEADS, LAYERS, CHUNK = 8192, 64, 256, 2, 2, 64


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


def chunk_delta_rule(q, k, v, beta, chunk=CHUNK):
    """o for S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = S_t^T q_t / sqrt(K).
    q, k, v [B, H, T, K]; beta [B, H, T]. Within a chunk the writes are W = (I + tril(beta K K^T, -1))^-1
    beta K and U likewise from V (a triangular solve); across chunks the state is carried."""
    b, h, t, d = q.shape
    pad = (-t) % chunk
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        beta = F.pad(beta, (0, pad))
    n = (t + pad) // chunk
    q, k, v = (x.reshape(b, h, n, chunk, d) for x in (q, k, v))
    q = q * d ** -0.5
    beta = beta.reshape(b, h, n, chunk, 1)
    k_beta, v_beta = k * beta, v * beta
    eye = torch.eye(chunk, dtype=q.dtype)
    lower = torch.tril(k_beta @ k.transpose(-1, -2), diagonal=-1)
    w = torch.linalg.solve_triangular(eye + lower, k_beta, upper=False, unitriangular=True)
    u = torch.linalg.solve_triangular(eye + lower, v_beta, upper=False, unitriangular=True)
    causal = torch.ones(chunk, chunk, dtype=torch.bool).tril()
    state = q.new_zeros(b, h, d, d)
    outputs = []
    for i in range(n):
        qi, ki = q[:, :, i], k[:, :, i]
        new_values = u[:, :, i] - w[:, :, i] @ state
        scores = (qi @ ki.transpose(-1, -2)).masked_fill(~causal, 0)
        outputs.append(qi @ state + scores @ new_values)
        state = state + ki.transpose(-1, -2) @ new_values
    return torch.stack(outputs, dim=2).reshape(b, h, n * chunk, d)[:, :, :t]


def recurrent_delta_rule(q, k, v, beta):
    """The same recurrence token by token (--check compares the chunkwise form with it)."""
    b, h, t, d = q.shape
    state = q.new_zeros(b, h, d, v.shape[-1])
    outputs = []
    for i in range(t):
        ki, bi = k[:, :, i], beta[:, :, i, None, None]
        state = state - bi * ki[..., :, None] * (ki[..., None, :] @ state) + bi * ki[..., :, None] * v[:, :, i, None, :]
        outputs.append((q[:, :, i, None, :] @ state).squeeze(-2) * d ** -0.5)
    return torch.stack(outputs, dim=2)


class DeltaNetMixer(nn.Module):
    def __init__(self, d_model, heads=HEADS):
        super().__init__()
        self.heads, self.head_dim = heads, d_model // heads
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d_model, d_model, bias=False) for _ in range(3))
        self.b_proj = nn.Linear(d_model, heads, bias=False)
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
        beta = torch.sigmoid(self.b_proj(x)).transpose(1, 2)
        o = self.o_norm(chunk_delta_rule(q, k, v, beta))
        return self.o_proj(o.transpose(1, 2).reshape(b, t, -1))


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
    def __init__(self, d_model):
        super().__init__()
        self.attn_norm, self.attn = RMSNorm(d_model), DeltaNetMixer(d_model)
        self.mlp_norm, self.mlp = RMSNorm(d_model), SwiGLU(d_model)

    def forward(self, x):
        x = x + self.attn(self.attn_norm(x))
        return x + self.mlp(self.mlp_norm(x))


class DeltaNetLM(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.embeddings = nn.Embedding(VOCAB, d_model)
        self.layers = nn.ModuleList(Block(d_model) for _ in range(LAYERS))
        self.norm = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, VOCAB, bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens, targets):
        x = self.embeddings(tokens)
        for layer in self.layers:
            x = layer(x)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def train_step_rate(d_model, warmup, reps):
    torch.manual_seed(3)
    model = DeltaNetLM(d_model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    tokens = torch.randint(0, VOCAB, (B, T))
    targets = torch.randint(0, VOCAB, (B, T))

    def step():
        optimizer.zero_grad(set_to_none=True)
        model(tokens, targets).backward()
        optimizer.step()

    return B * T / timed(step, warmup, reps)


def head_gemm_rate(d_model, reps):
    x, w = torch.randn(B * T, d_model), torch.randn(d_model, VOCAB)
    seconds = timed(lambda: x @ w, 2, reps)
    return 2.0 * B * T * d_model * VOCAB / seconds * 1e-9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="2", help="comma-separated thread counts")
    parser.add_argument("--d", type=int, default=128, help="model width")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="compare the chunkwise form with the recurrence first")
    args = parser.parse_args()
    if args.check:
        torch.manual_seed(0)
        q, k = (F.normalize(torch.randn(2, 2, 37, 16, dtype=torch.float64), dim=-1) for _ in range(2))
        v, beta = torch.randn(2, 2, 37, 16, dtype=torch.float64), torch.rand(2, 2, 37, dtype=torch.float64)
        error = (chunk_delta_rule(q, k, v, beta, chunk=16) - recurrent_delta_rule(q, k, v, beta)).abs().max().item()
        print(f"# check: chunkwise vs recurrent, T 37 in chunks of 16, float64: max |difference| {error:.3g}")
        if error > 1e-10:
            raise SystemExit("the chunkwise form does not match the recurrence")
    print(f"# torch {torch.__version__}, {torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'}", flush=True)
    for n in (int(x) for x in args.threads.split(",")):
        torch.set_num_threads(n)
        print(f"head_gemm/threads{n} {head_gemm_rate(args.d, 20):.1f} GFLOP/s", flush=True)
        print(f"train_step/threads{n}/d{args.d} {train_step_rate(args.d, args.warmup, args.reps):.0f} tokens/s", flush=True)


if __name__ == "__main__":
    main()
