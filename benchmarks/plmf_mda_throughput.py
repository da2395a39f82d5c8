"""PLMF-MDA training throughput (pairs/s) and the time of a 5-fold run, CPU (or GPU when present).

Usage: python benchmarks/plmf_mda_throughput.py [--dataset MDR] [--threads 1] [--device cpu]
       [--batch-sizes 32,128] [--steps 60] [--fusion vector,token] [--cv-epochs 0] [--out benchmarks/plmf_mda_throughput.csv]
Real MDR/MDS pairs and the shipped language-model stand-ins (embeddings precomputed once, as in the chapter).
`--cv-epochs N` also times a real 5-fold run of N epochs per fold (paper: 80 epochs, batch 32); otherwise
the 5-fold time is extrapolated from the measured throughput: 5 folds x 80 epochs x training pairs / (pairs/s).
"""
import argparse, time

import numpy as np
import pandas as pd
import torch

from rna_papers.core.train import to_device
from rna_papers.plmf_mda import (ModelConfig, PLMFMDA, PLMFMDANet, PLMFProfile, PairBatches, cv_protocol, cv_table,
                                 load_mirna_drug, pair_forward)


def bench(feats, config, pairs, labels, batch_size, steps, device) -> float:
    "Training pairs/s over `steps` optimiser steps (after 5 warm-up steps)."
    torch.manual_seed(0)
    net = PLMFMDANet(config).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=5e-4, weight_decay=5e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    it = iter(PairBatches(feats, pairs, labels, batch_size, shuffle=True))
    n, t = 0, None
    for k in range(steps + 5):
        if k == 5: t, n = time.perf_counter(), 0
        b = next(it, None)
        if b is None: it = iter(PairBatches(feats, pairs, labels, batch_size, shuffle=True)); b = next(it)
        b = to_device(b, device)
        y_hat, y = pair_forward(net, b)
        loss = loss_fn(y_hat, y); opt.zero_grad(); loss.backward(); opt.step(); n += len(y)
    if device.startswith("cuda"): torch.cuda.synchronize()
    return n / (time.perf_counter() - t)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="MDR"); p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-sizes", default="32,128"); p.add_argument("--steps", type=int, default=60)
    p.add_argument("--fusion", default="vector,token"); p.add_argument("--cv-epochs", type=int, default=0)
    p.add_argument("--out", default="benchmarks/plmf_mda_throughput.csv")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ds = load_mirna_drug(a.dataset)
    pairs, labels, splits = cv_protocol(ds, 5, 0)
    n_train = len(splits[0].train)
    rows = []
    for fusion in a.fusion.split(","):
        m = PLMFMDA(ModelConfig(fusion=fusion), a.device)
        feats = m.featurise(ds.mirnas.sequence.tolist(), ds.drugs.smiles.tolist())
        for bs in map(int, a.batch_sizes.split(",")):
            pps = bench(feats, m.config, pairs[splits[0].train], labels[splits[0].train], bs, a.steps, a.device)
            rows.append(dict(dataset=a.dataset, fusion=fusion, batch_size=bs, device=a.device, threads=a.threads,
                             train_pairs_per_s=round(pps, 1),
                             est_5fold_80ep_min=round(5 * 80 * n_train / pps / 60, 1)))
            print(rows[-1], flush=True)
    if a.cv_epochs:
        m = PLMFMDA(ModelConfig(), a.device)
        feats = m.featurise(ds.mirnas.sequence.tolist(), ds.drugs.smiles.tolist())
        t = time.perf_counter()
        df = cv_table("PLMF-MDA", ds, feats, PLMFProfile(num_epochs=a.cv_epochs, batch_size=32, seeds=(0,)), 0, a.device)
        rows.append(dict(dataset=a.dataset, fusion="vector", batch_size=32, device=a.device, threads=a.threads,
                         measured_5fold_min=round((time.perf_counter() - t) / 60, 2), cv_epochs=a.cv_epochs,
                         auc=round(df.auc.mean(), 4), auc_sd=round(df.auc.std(), 4),
                         aupr=round(df.aupr.mean(), 4), aupr_sd=round(df.aupr.std(), 4)))
        print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
