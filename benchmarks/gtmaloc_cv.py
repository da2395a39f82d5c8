"""GTMALoc: wall-clock time of one 10-fold CV of the fusion classifier on the 901 labelled miRNAs (CPU, or GPU when present).

Usage: python benchmarks/gtmaloc_cv.py [--folds 10] [--members 1,3] [--threads 2] [--device cpu] [--features shipped|authors]
       [--out benchmarks/gtmaloc_cv.csv]
Embeddings are computed once, outside the timed region, as in the chapter: `shipped` uses the model inputs of
data/models/gtmaloc/features.npz (our node2vec + graph-transformer features of the full profile), `authors` the
authors' 448-d features plus degree features. Reference: the authors' released TensorFlow code takes about 3.5 min
per 10-fold run on 2 free CPU cores (shared/reference_runs). Every fold fits its own scaler and early-stopping split.
"""
import argparse, json, time

import numpy as np
import pandas as pd
import torch

from rna_papers import gtmaloc as G
from rna_papers.core.data import dataset_path
from rna_papers.core.profiles import get_device


def features(kind: str, d: G.GTMALocData):
    if kind == "shipped":
        f = np.load(dataset_path(G.MODEL_NAME) / "features.npz")
        cfg = json.loads((dataset_path(G.MODEL_NAME, verify=False) / "config.json").read_text())
        return f["X"], cfg["in_dims"]
    a = d.authors
    return G.stack_blocks(G.modality_blocks(d, a["seq64"], {m: a[f"gt_{m}"] for m in ["disease", "drug", "mrna"]}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--members", default="1,3", help="ensemble sizes to time, comma-separated")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--features", default="shipped", choices=["shipped", "authors"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dev = get_device(a.device)
    d = G.load_gtmaloc_data()
    X, dims = features(a.features, d)
    lab = np.flatnonzero(d.has_label)
    rows = []
    for m in [int(x) for x in a.members.split(",")]:
        t = time.perf_counter()
        r = G.cv_evaluate(X[lab], d.Y[lab].astype(np.float32), dims, a.folds, a.seed, str(dev), num_members=m)
        sec = time.perf_counter() - t
        mac = r["mean"].loc["macro"]
        rows.append({"features": a.features, "folds": a.folds, "members": m, "device": str(dev), "threads": a.threads,
                     "seconds": round(sec, 1), "macro_auc": round(float(mac.auc), 4), "macro_aupr": round(float(mac.aupr), 4)})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    if a.out: df.to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
