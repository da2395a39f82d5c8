"""PLMF-MDA training throughput (pairs/s) of both batch paths and the time of a 5-fold run, CPU (or GPU when present).

Usage: python benchmarks/plmf_mda_throughput.py [--dataset MDR] [--threads 1] [--device cpu] [--batch-sizes 32,128]
       [--steps 200] [--fusion vector,token] [--paths per_pair,per_entity] [--cv-epochs 0] [--out benchmarks/plmf_mda_throughput.csv]
       [--breakdown FILE] [--engine FILE]
Real MDR/MDS pairs and the shipped language-model stand-ins (embeddings precomputed once, as in the chapter).
Each row times `PLMFMDA.fit` itself (one epoch over `--steps` x batch-size training pairs of fold 0, after a
10-step warm-up fit) on one batch path: `per_pair` (the reference `PairBatches`) or `per_entity` (`EntityBatches`).
`--cv-epochs N` also times a real 5-fold run of N epochs per fold (paper: 80 epochs, batch 32); otherwise
the 5-fold time is extrapolated from the measured throughput: 5 folds x 80 epochs x training pairs / (pairs/s).
`--engine FILE` (CPU only) times the same fit (vector fusion, per-entity path, first batch size) in this process,
in a worker of the unit engine's Dask cluster (`core.units._client`, which leaves glibc's allocator at its defaults)
and in a Dask worker started with Dask's default environment (MALLOC_TRIM_THRESHOLD_=65536), in that order (Dask's
default worker last: its nanny also sets the variable in this process).
"""
import argparse, itertools, time

import numpy as np
import pandas as pd
import torch

from rna_papers.plmf_mda import ModelConfig, PLMFMDA, PLMFProfile, cv_protocol, cv_table, load_mirna_drug
from rna_papers.plmf_mda.batching import pair_batches
from rna_papers.plmf_mda.model import PLMFMDANet


def bench(m, feats, pairs, labels, batch_size, steps, path) -> float:
    "Training pairs/s of `m.fit` over `steps` optimiser steps of one epoch, after a 10-step warm-up fit."
    m.fit(feats, pairs[:10 * batch_size], labels[:10 * batch_size], num_epochs=1, batch_size=batch_size, path=path)
    n = min(len(pairs), steps * batch_size)
    t = time.perf_counter()
    m.fit(feats, pairs[:n], labels[:n], num_epochs=1, batch_size=batch_size, path=path)
    if str(m.device).startswith("cuda"): torch.cuda.synchronize()
    return n / (time.perf_counter() - t)


def engine_job(dataset, batch_size, steps, threads) -> float:
    "Training pairs/s of a per-entity, vector-fusion fit in whichever process runs this (built from scratch there)."
    import contextlib, io
    torch.set_num_threads(threads)
    ds = load_mirna_drug(dataset); pairs, labels, splits = cv_protocol(ds, 5, 0)
    m = PLMFMDA(ModelConfig(), "cpu")
    with contextlib.redirect_stdout(io.StringIO()): feats = m.featurise(ds.mirnas.sequence.tolist(), ds.drugs.smiles.tolist())
    return bench(m, feats, pairs[splits[0].train], labels[splits[0].train], batch_size, steps, "per_entity")


def engine(dataset, batch_size, steps, threads) -> list:
    "Rows: the same fit in this process, in a worker of the unit engine, in a worker with Dask's default environment."
    import dask, os
    from distributed import Client, LocalCluster
    from rna_papers.core.units import _client
    def in_worker(client): return client.submit(engine_job, dataset, batch_size, steps, threads, pure=False).result()
    def env(client): return next(iter(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()))
    rows = [("in_process", "this process", os.environ.get("MALLOC_TRIM_THRESHOLD_"), engine_job(dataset, batch_size, steps, threads))]
    os.environ.pop("RNA_PAPERS_SCHEDULER", None)                    # the embedded cluster, not a remote one
    c, cl = _client(1, None)
    try: rows.append(("unit_engine", "Dask worker of the unit engine (core.units._client)", env(c), in_worker(c)))
    finally: c.close(); cl.close()
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 65536}):  # Dask's default
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cl, Client(cl) as c:
            rows.append(("dask_default", "Dask worker, Dask's default environment", env(c), in_worker(c)))  # last: its nanny leaks
    return [dict(dataset=dataset, fusion="vector", batch_size=batch_size, threads=threads, steps=steps, path="per_entity",
                 key=k, where=w, malloc_trim_threshold=t or "unset", train_pairs_per_s=round(v, 1)) for k, w, t, v in rows]


def breakdown(m, feats, pairs, labels, batch_size, steps) -> dict:
    "Milliseconds per training step of each part (forward + backward), per-entity path, on the same `steps` batches."
    torch.manual_seed(0)
    net = PLMFMDANet(m.config).train()
    opt, bce = torch.optim.Adam(net.parameters(), lr=5e-4, weight_decay=5e-4, fused=True), torch.nn.BCEWithLogitsLoss()
    bs = list(itertools.islice(pair_batches("per_entity", feats, pairs, labels, batch_size, True, 0), steps))
    gcn = lambda b: net.gcn(*(b["d_graph"][k] for k in ("x", "edge_index", "batch")), edge_weight=b["d_graph"]["edge_weight"])
    W = [torch.randn(a, b, requires_grad=True) for a, b in [(feats.graphs[0].x.shape[1], 128), (128, 128), (128, 128)]]
    def gcn_matmuls(b):   # the GCN's dense arithmetic alone: the three atom-wise products, forward and backward
        h = b["d_graph"]["x"]
        for w in W: h = h @ w
        h.sum().backward()
    def step(b): opt.zero_grad(); bce(net(b), b["y"]).backward(); opt.step()
    parts = {"whole training step": step, "miRNA side (CNN, RNA view, fusion)": lambda b: net.encode_mirna(b).sum().backward(),
             "drug side (GCN, SMILES view, fusion)": lambda b: net.encode_drug(b).sum().backward(),
             "drug GCN": lambda b: gcn(b).sum().backward(), "drug GCN matmuls only": gcn_matmuls,
             "optimiser step": lambda b: opt.step()}
    out = {}
    for name, f in parts.items():
        for b in bs[:5]: f(b)
        t = time.perf_counter()
        for b in bs: f(b)
        out[name] = (time.perf_counter() - t) / len(bs) * 1e3
    out["atoms per step"] = sum(b["d_graph"]["x"].shape[0] for b in bs) / len(bs)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="MDR"); p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-sizes", default="32,128"); p.add_argument("--steps", type=int, default=200)
    p.add_argument("--fusion", default="vector,token"); p.add_argument("--cv-epochs", type=int, default=0)
    p.add_argument("--paths", default="per_pair,per_entity")
    p.add_argument("--breakdown", default="", help="also write per-part ms per step (vector fusion) to this CSV")
    p.add_argument("--engine", default="", help="also time the fit inside Dask workers (see above) into this CSV")
    p.add_argument("--out", default="benchmarks/plmf_mda_throughput.csv")
    a = p.parse_args()
    if a.engine and a.device != "cpu": p.error("--engine times CPU training only: leave out --device or pass --device cpu")
    torch.set_num_threads(a.threads)
    ds = load_mirna_drug(a.dataset)
    pairs, labels, splits = cv_protocol(ds, 5, 0)
    n_train = len(splits[0].train)
    rows = []
    for fusion in filter(None, a.fusion.split(",")):      # --fusion "": no throughput rows (e.g. only --engine)
        m = PLMFMDA(ModelConfig(fusion=fusion), a.device)
        feats = m.featurise(ds.mirnas.sequence.tolist(), ds.drugs.smiles.tolist())
        for bs in map(int, a.batch_sizes.split(",")):
            for path in a.paths.split(","):
                pps = bench(m, feats, pairs[splits[0].train], labels[splits[0].train], bs, a.steps, path)
                rows.append(dict(dataset=a.dataset, fusion=fusion, batch_size=bs, device=a.device, threads=a.threads,
                                 path=path, train_pairs_per_s=round(pps, 1),
                                 est_5fold_80ep_min=round(5 * 80 * n_train / pps / 60, 1)))
                print(rows[-1], flush=True)
    if a.breakdown:
        m = PLMFMDA(ModelConfig(), a.device)
        feats = m.featurise(ds.mirnas.sequence.tolist(), ds.drugs.smiles.tolist())
        parts = []                                            # every batch size in one file (it was overwritten per size)
        for bs in map(int, a.batch_sizes.split(",")):
            p = breakdown(m, feats, pairs[splits[0].train], labels[splits[0].train], bs, a.steps); print(p, flush=True)
            parts += [dict(dataset=a.dataset, fusion="vector", batch_size=bs, device=a.device, threads=a.threads,
                           part=k, value=round(v, 3)) for k, v in p.items()]
        pd.DataFrame(parts).to_csv(a.breakdown, index=False)
    if a.engine:
        rows_e = engine(a.dataset, int(a.batch_sizes.split(",")[0]), a.steps, a.threads)
        for r in rows_e: print(r, flush=True)
        pd.DataFrame(rows_e).to_csv(a.engine, index=False)
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
    if rows: pd.DataFrame(rows).to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
