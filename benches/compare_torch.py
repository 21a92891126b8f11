"""Train and run the reference gene transformer in PyTorch on the batches cellsindy wrote.

Usage: python benches/compare_torch.py --dir target/torch-compare [--steps N] [--attention sdpa|manual|both]

The model is cellsindy's (src/nn/model.rs) layer for layer: gene + value embeddings, pre-LN
blocks with a fused qkv projection, exact-erf GELU MLP, final LayerNorm, a linear head over
the bins; loss = sum(weight * CE over bins) / gene tokens; AdamW (beta 0.9/0.98, eps 1e-8,
weight decay 0.01 on weight matrices only), global-norm clipping at 1.0, warm-up + cosine.
Prints the comparison table (ratios = cellsindy / PyTorch) and writes torch.json.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


class Block(nn.Module):
    def __init__(self, d, h, ff, attention):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.h, self.attention = h, attention

    def forward(self, x):
        b, t, d = x.shape
        dh = d // self.h
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.h, dh).permute(2, 0, 3, 1, 4)
        if self.attention == "sdpa":
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            p = torch.softmax((q * dh ** -0.5) @ k.transpose(-1, -2), dim=-1)
            a = p @ v
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class GeneTransformer(nn.Module):
    def __init__(self, n_genes, n_bins, d, layers, h, ff, attention):
        super().__init__()
        self.gene = nn.Embedding(n_genes, d)
        self.value = nn.Embedding(n_bins + 1, d)
        self.blocks = nn.ModuleList(Block(d, h, ff, attention) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, n_bins)

    def forward(self, genes, bins):
        x = self.gene(genes) + self.value(bins)
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


def lr_at(step, steps, warmup=10, lr=2e-3, min_ratio=0.05):
    if step < warmup:
        return lr * (step + 1) / warmup
    p = min((step - warmup) / max(steps - warmup, 1), 1.0)
    return lr * min_ratio + (lr - lr * min_ratio) * 0.5 * (1 + math.cos(math.pi * p))


def run(args, rust, attention):
    cfg = rust["config"]
    torch.manual_seed(0)
    batches = []
    for i in range(8):
        ld = lambda n: np.load(os.path.join(args.dir, f"{n}_{i}.npy"))
        batches.append((
            torch.from_numpy(ld("genes").astype(np.int64)),
            torch.from_numpy(ld("bins").astype(np.int64)),
            torch.from_numpy(ld("targets").astype(np.int64)),
            torch.from_numpy(ld("weights").astype(np.float32)),
        ))
    model = GeneTransformer(cfg["vocab"] + 1, cfg["n_bins"], cfg["d_model"], cfg["n_layers"], cfg["n_heads"], cfg["d_ff"], attention)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() == 2 and not n.startswith(("gene", "value"))]
    other = [p for n, p in model.named_parameters() if not any(p is q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}], lr=2e-3, betas=(0.9, 0.98), eps=1e-8)
    n_bins = cfg["n_bins"]
    steps = args.steps
    t_fwd = t_bwd = t_opt = 0.0
    tokens = 0
    for s in range(steps + 1):
        genes, bins, targets, weights = batches[s % 8]
        n_tok = int((genes != 0).sum())
        t0 = time.perf_counter()
        logits = model(genes, bins)
        logp = F.log_softmax(logits.reshape(-1, n_bins), dim=-1)
        nll = -logp.gather(1, targets.reshape(-1, 1)).squeeze(1)
        loss = (nll * weights.reshape(-1)).sum() / n_tok
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = lr_at(s, 1_000_000)
        opt.step()
        t3 = time.perf_counter()
        if s > 0:
            t_fwd += t1 - t0
            t_bwd += t2 - t1
            t_opt += t3 - t2
            tokens += n_tok
    train_tps = tokens / (t_fwd + t_bwd + t_opt)
    reps = min(steps, 20)
    with torch.inference_mode():
        t0 = time.perf_counter()
        n = 0
        for s in range(reps):
            genes, bins, _, _ = batches[s % 8]
            model(genes, bins).sum().item()
            n += int((genes != 0).sum())
        infer_tps = n / (time.perf_counter() - t0)
    return {
        "framework": f"PyTorch {torch.__version__} ({attention} attention)",
        "threads": torch.get_num_threads(),
        "train_tokens_per_sec": train_tps,
        "inference_tokens_per_sec": infer_tps,
        "seconds_per_step": {"forward_and_loss": t_fwd / steps, "backward": t_bwd / steps, "optimizer": t_opt / steps},
        "peak_rss_mb": peak_rss_mb(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="target/torch-compare")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--attention", default="both", choices=["sdpa", "manual", "both"])
    args = ap.parse_args()
    with open(os.path.join(args.dir, "rust.json")) as f:
        rust = json.load(f)
    if args.steps is None:
        args.steps = rust["steps"]
    kinds = ["sdpa", "manual"] if args.attention == "both" else [args.attention]
    results = [run(args, rust, k) for k in kinds]
    with open(os.path.join(args.dir, "torch.json"), "w") as f:
        json.dump(results, f, indent=2)
    best = max(results, key=lambda r: r["train_tokens_per_sec"])
    print()
    print(f"reference config: vocab {rust['config']['vocab']}, {rust['config']['n_bins']} bins, "
          f"{rust['config']['genes_per_cell']} genes/cell, d {rust['config']['d_model']}, "
          f"{rust['config']['n_layers']} layers, {rust['config']['n_heads']} heads, FFN {rust['config']['d_ff']}, "
          f"batch {rust['config']['batch']}; {args.steps} timed steps")
    print(f"{'':<44}{'train tok/s':>12}{'infer tok/s':>12}{'fwd s':>8}{'bwd s':>8}{'opt s':>8}{'RSS MB':>8}")
    for r in [rust] + results:
        sp = r["seconds_per_step"]
        print(f"{r['framework']:<44}{r['train_tokens_per_sec']:>12.0f}{r['inference_tokens_per_sec']:>12.0f}"
              f"{sp['forward_and_loss']:>8.3f}{sp['backward']:>8.3f}{sp['optimizer']:>8.3f}{(r['peak_rss_mb'] or 0):>8.0f}")
    for r in results:
        print(f"ratio cellsindy / {r['framework']}: training {rust['train_tokens_per_sec'] / r['train_tokens_per_sec']:.2f}x, "
              f"inference {rust['inference_tokens_per_sec'] / r['inference_tokens_per_sec']:.2f}x")
    print(f"(fastest PyTorch variant: {best['framework']})")


if __name__ == "__main__":
    main()
