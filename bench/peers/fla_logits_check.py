#!/usr/bin/env python3
"""fla_logits_check.py: open a deltabench run folder with flash-linear-attention and compare logits.

Usage:
  python3 bench/peers/fla_logits_check.py RUN_DIR TOKENS LOGITS [--mode fused_recurrent]

RUN_DIR holds the config.json and model.safetensors deltabench wrote for a run; TOKENS is a
safetensors file with `tokens` [B, T] (int64); LOGITS is what
`deltabench forward --checkpoint RUN_DIR --tokens TOKENS --out LOGITS` wrote. The model is opened
the way a researcher would, `AutoModelForCausalLM.from_pretrained(RUN_DIR)`, in float32 with TF32
off, every mixer layer switched to the given fla kernel mode, and the relative RMS difference of
the logits is printed. Exit 0 when it is at most --tolerance.

Needs torch, transformers and flash-linear-attention importable; fla is not part of deltabench and
its code is never committed here. A GPU is needed for fla's Triton kernels.
"""
import argparse
import sys

import torch
from safetensors.torch import load_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("tokens")
    parser.add_argument("logits")
    parser.add_argument("--mode", default="fused_recurrent", help="fla kernel mode of every mixer layer")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest accepted relative RMS")
    args = parser.parse_args()

    import fla  # noqa: F401  (registers fla's model types with transformers' Auto classes)
    from transformers import AutoModelForCausalLM

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = AutoModelForCausalLM.from_pretrained(args.run_dir, torch_dtype=torch.float32).cuda().eval()
    for layer in model.model.layers:
        layer.attn.mode = args.mode
    tokens = load_file(args.tokens)["tokens"].long().cuda()
    expected = load_file(args.logits)["logits"].double()
    with torch.no_grad():
        got = model(input_ids=tokens).logits.double().cpu()
    if got.shape != expected.shape:
        print(f"shape mismatch: fla {tuple(got.shape)} vs deltabench {tuple(expected.shape)}")
        return 1
    rel_rms = ((got - expected).pow(2).mean().sqrt() / expected.pow(2).mean().sqrt()).item()
    print(f"{args.run_dir}: {model.config.model_type}, logits {tuple(got.shape)}, mode {args.mode}: "
          f"relative RMS {rel_rms:.3e} (tolerance {args.tolerance:.0e})")
    return 0 if rel_rms <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
