#!/usr/bin/env python3
"""fla_speed.py: flash-linear-attention's speed on the shapes bench/cuda/ measures, as the GPU peer.

Run it where PyTorch and fla are installed, on the same GPU as `bench_gpu_train_step`, in the same
command, so the ratios compare like with like (fla's code is fetched there, never committed here):

    PYTHONPATH=<fla checkout> python3 bench/peers/fla_speed.py [--precision bf16|fp32|both]

It prints one line per measurement in the form `name tokens_per_s value`:
  * train_step/<precision>/d<D>: the MQAR reference model of bench/cuda/ (fla DeltaNet LM, 2 layers,
    2 heads, short conv, SwiGLU, vocabulary 8192, B 64, T 256, the loss at every position, AdamW),
    a full step: zero_grad, forward with loss, backward, optimizer step.
  * chunk_delta_rule/<precision>: fla's chunk_delta_rule forward + backward at B 8, H 2, T 2048,
    K = V = 64 (the kernel alone, inputs as its layer feeds it: L2-normalised q and k, beta in (0, 1)).
bf16 is autocast around the model's forward (fp32 master weights, as fla trains), or bf16 tensors for
the kernel. fla's chunk_delta_rule refuses fp32 inputs, so fp32 has no kernel figure and the fp32
model step runs fla's kernels on autocast-free fp32 only where fla allows it. The first call of each
shape JIT-compiles and autotunes fla's Triton kernels, which takes minutes. Timing: CUDA events around `reps` steps after `warmup` steps.
"""
import argparse
import time

import torch


def time_steps(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / reps


def train_step_rate(d_model, precision, warmup, reps):
    from fla.models import DeltaNetConfig, DeltaNetForCausalLM

    B, T, N = 64, 256, 8192
    config = DeltaNetConfig(hidden_size=d_model, num_hidden_layers=2, num_heads=2, vocab_size=N,
                            use_short_conv=True, conv_size=4, use_beta=True, use_gate=False,
                            fuse_cross_entropy=True)
    model = DeltaNetForCausalLM(config).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, fused=True)
    g = torch.Generator(device="cuda").manual_seed(3)
    tokens = torch.randint(0, N, (B, T), device="cuda", generator=g)
    labels = torch.randint(0, N, (B, T), device="cuda", generator=g)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            # fla shifts labels inside the model; the cost is the loss at every position either way
            loss = model(input_ids=tokens, labels=labels).loss
        loss.backward()
        optimizer.step()

    return B * T / time_steps(step, warmup, reps)


def kernel_rate(precision, warmup, reps):
    from fla.ops.delta_rule import chunk_delta_rule

    B, H, T, K = 8, 2, 2048, 64
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    g = torch.Generator(device="cuda").manual_seed(5)

    def leaf(*shape, unit=False):
        x = torch.randn(*shape, device="cuda", generator=g, dtype=torch.float32)
        if unit:
            x = torch.nn.functional.normalize(x, dim=-1)
        return x.to(dtype).requires_grad_(True)

    q, k, v = leaf(B, T, H, K, unit=True), leaf(B, T, H, K, unit=True), leaf(B, T, H, K)
    beta = torch.rand(B, T, H, device="cuda", generator=g).to(dtype).requires_grad_(True)
    do = torch.randn(B, T, H, K, device="cuda", generator=g).to(dtype)

    def step():
        o, _ = chunk_delta_rule(q, k, v, beta)
        o.backward(do)

    return B * T / time_steps(step, warmup, reps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=["bf16", "fp32", "both"], default="both")
    parser.add_argument("--widths", default="64,128,512", help="d_model values of the training step ('' for none)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    precisions = ["bf16", "fp32"] if args.precision == "both" else [args.precision]
    print(f"# {torch.cuda.get_device_name()} torch {torch.__version__}")
    for p in precisions:
        for d in (int(w) for w in args.widths.split(",") if w):
            print(f"train_step/{p}/d{d} tokens_per_s {train_step_rate(d, p, args.warmup, args.reps):.0f}", flush=True)
        print(f"chunk_delta_rule/{p} tokens_per_s {kernel_rate(p, args.warmup, args.reps):.0f}", flush=True)


if __name__ == "__main__":
    main()
