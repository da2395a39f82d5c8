"""UTR-STCNet speed and memory: training / inference throughput vs UTR length (CPU, or GPU when present).

Usage: python benchmarks/utr_stcnet_speed.py [--threads 2] [--lengths 25,50,75,100,200,500,1000] [--device cpu]
       [--kinds stcnet,optimus] [--out benchmarks/utr_stcnet_speed.csv]
Sequences are synthetic (uniform random letters); only speed and memory are measured.
Targets (issue 6, 50 nt, batch 128, 2 CPU cores): >= 300 seq/s training, >= 2,000 seq/s inference, peak RSS <= 4 GB.
"""
import argparse, resource, sys, time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from rna_papers.utr_stcnet.model import MRLRegressor, encode_batch


def peak_rss_gb() -> float:
    "Peak resident set size of this process so far (GB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def bench(kind: str, length: int, batch_size: int, device: str, steps: int, rng) -> dict:
    kw = {"width": max(length, 50)} if kind == "optimus" else {}
    net = MRLRegressor(kind, ("h",), max_len=max(length, 1000), **kw).net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    seqs = ["".join(rng.choice(list("ACGT"), length)) for _ in range(batch_size)]
    x, m = (t.to(device) for t in encode_batch(seqs))
    y = torch.randn(batch_size, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    net.train()
    for i in range(steps + 2):                       # 2 warm-up steps
        if i == 2: sync(); t0 = time.perf_counter()
        loss = F.mse_loss(net(x, m)[:, 0], y); opt.zero_grad(); loss.backward(); opt.step()
    sync(); train = steps * batch_size / (time.perf_counter() - t0)
    net.eval()
    with torch.no_grad():
        for i in range(steps + 2):
            if i == 2: sync(); t0 = time.perf_counter()
            net(x, m)                             # inference at the training batch size
    sync(); infer = steps * batch_size / (time.perf_counter() - t0)
    n_par = sum(p.numel() for p in net.parameters())
    return {"kind": kind, "length": length, "batch_size": batch_size, "device": device, "params": n_par,
            "train_seq_per_s": round(train, 1), "infer_seq_per_s": round(infer, 1), "peak_rss_gb": round(peak_rss_gb(), 3)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lengths", default="25,50,75,100,200,500,1000")
    p.add_argument("--kinds", default="stcnet,optimus")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows = []
    for kind in a.kinds.split(","):
        for L in map(int, a.lengths.split(",")):
            if kind == "optimus" and L > 100: continue   # fixed-width model; not meant for long UTRs
            rows.append(bench(kind, L, a.batch_size, a.device, a.steps, rng))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    if a.out: df.to_csv(a.out, index=False)
    r = df[(df.kind == "stcnet") & (df.length == 50)]
    if len(r) and a.device == "cpu":
        r = r.iloc[0]
        ok = r.train_seq_per_s >= 300 and r.infer_seq_per_s >= 2000 and r.peak_rss_gb <= 4
        print(f"targets at 50 nt: train {r.train_seq_per_s} >= 300, inference {r.infer_seq_per_s} >= 2000, "
              f"peak RSS {r.peak_rss_gb} GB <= 4 -> {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
