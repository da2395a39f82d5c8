"""Would late fusion of the network with gradient boosting reach the aim? A look on validation rows only.

The design study's inner-validation units (dp negatives) store, on the same validation pairs, the scores of both heads
(concat, interaction) and of the GBM baseline. This script averages the ranks of a head's scores and GBM's,
w * rank(head) + (1 - w) * rank(GBM), and reports per dataset the AUC gain over GBM alone, mean ± sd over the stored
inner folds (seeds x outer folds). It reads only stored inner-validation records: no outer test pair, no training.
The aim asks for +0.03 AUC over GBM.

    python scripts/plmf_design_ensemble.py [--weights 0.25,0.5,0.75]
"""
import argparse
import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score
from rna_papers.core.units import UnitStore, default_store
from rna_papers.plmf_mda.units import units


def inner_scores(store) -> dict:
    "{(dataset, seed, fold): {variant: arrays}} of the stored inner-validation units of the design study."
    out = {}
    for u in units("full"):
        if u.experiment != "design" or u.params.get("protocol") != "inner": continue
        rec = store.get(u)
        if rec is not None: out.setdefault((u.dataset, u.seed, u.fold), {})[u.variant] = store.arrays(rec, u.chapter)
    return out


def gains(scores: dict, weights) -> pd.DataFrame:
    "One row per complete inner fold, head and weight: AUC of the rank average and of GBM alone."
    rk, rows = lambda s: rankdata(s) / len(s), []
    for (ds, seed, fold), d in sorted(scores.items()):
        if not {"baselines", "head=concat", "head=interaction"} <= set(d): continue
        y, g = d["baselines"]["labels"], d["baselines"]["gbm"]
        for head in ("concat", "interaction"):
            a = d[f"head={head}"]
            if not np.array_equal(a["labels"], y): raise ValueError(f"{ds} seed {seed} fold {fold}: labels differ")
            for w in (1.0, *weights):
                auc = roc_auc_score(y, w * rk(a["scores"]) + (1 - w) * rk(g))
                rows.append(dict(dataset=ds, seed=seed, fold=fold, head=head, w=w, auc=auc, gbm=roc_auc_score(y, g)))
    df = pd.DataFrame(rows); df["gain"] = df.auc - df.gbm
    return df


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="0.25,0.5,0.75")
    a = ap.parse_args()
    df = gains(inner_scores(UnitStore(default_store("full"))), [float(w) for w in a.weights.split(",")])
    if df.empty: raise SystemExit("no complete inner-validation fold is stored yet")
    t = df.groupby(["dataset", "head", "w"]).agg(folds=("gain", "size"), gain_mean=("gain", "mean"), gain_sd=("gain", "std"))
    print(t.round(3).to_string())


if __name__ == "__main__":
    main()
