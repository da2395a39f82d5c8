"""How much pair signal is left under degree-preserving (dp) negatives? A look on validation rows only.

For each dataset and outer fold (seed 0, dp scheme) the outer training positives are split 80/20 into inner training and
validation positives, each side gets its own degree-preserving negatives (`dp_negatives`), and three scores are computed
on the inner validation pairs: gradient boosting on k-mers + Morgan bits (the chapter's GBM), a neighbourhood score that
uses the inner training network (how similar the drug is to the miRNA's other training drugs, Tanimoto on Morgan bits,
plus how similar the miRNA is to the drug's other training miRNAs, cosine on k-mers), and the degree score. Outer test
pairs are never read. Used to judge whether an "improved design" fed with network information could beat GBM by 0.03.

    python scripts/plmf_dp_signal.py [--folds 0] [--datasets MDR,MDS]
"""
import argparse
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from rna_papers.core.embed import kmer_frequencies
from rna_papers.plmf_mda import load_mirna_drug
from rna_papers.plmf_mda.baselines import morgan_fingerprints
from rna_papers.plmf_mda.protocol import dp_negatives, fold_split, labelled_split

def inner_split(ds, fold, seed=0):
    "Inner training / validation pairs carved from the outer fold's training positives, with their own dp negatives."
    sp = fold_split(ds, "dp", 5, seed, fold)
    pos = sp["train_pairs"][sp["train_labels"] == 1]
    perm = np.random.default_rng(1000 + fold).permutation(len(pos)); nv = len(pos) // 5
    tr, va = pos[perm[nv:]], pos[perm[:nv]]
    ntr, nva, _ = dp_negatives(ds.matrix(), tr, va, 99 + fold)
    return labelled_split(tr, ntr, va, nva)

def neighbourhood(B, Sm, Sd, p):
    "Mean similarity of the drug to the miRNA's training drugs plus of the miRNA to the drug's training miRNAs."
    m, d = p[:, 0], p[:, 1]
    sd = (B[m] * Sd[d]).sum(1) / np.maximum(B[m].sum(1), 1)
    sm = (B[:, d].T * Sm[m]).sum(1) / np.maximum(B[:, d].sum(0), 1)
    return sd + sm

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", default="0"); ap.add_argument("--datasets", default="MDR,MDS")
    a = ap.parse_args()
    print("dataset  fold  GBM    neighbourhood  degree   (AUC on inner validation pairs)")
    for name in a.datasets.split(","):
        ds = load_mirna_drug(name)
        Xm, Xd = kmer_frequencies(ds.mirnas.sequence.tolist()), morgan_fingerprints(ds.drugs.smiles.tolist())
        inter = Xd @ Xd.T; Sd = inter / (Xd.sum(1)[:, None] + Xd.sum(1)[None] - inter + 1e-9)
        Km = Xm / np.linalg.norm(Xm, axis=1, keepdims=True); Sm = Km @ Km.T
        for fold in map(int, a.folds.split(",")):
            s = inner_split(ds, fold)
            P, y, Q, yq = s["train_pairs"], s["train_labels"], s["test_pairs"], s["test_labels"]
            X = lambda p: np.hstack([Xm[p[:, 0]], Xd[p[:, 1]]])
            gbm = HistGradientBoostingClassifier(max_iter=300, random_state=0).fit(X(P), y).predict_proba(X(Q))[:, 1]
            B = np.zeros(ds.matrix().shape); B[P[y == 1, 0], P[y == 1, 1]] = 1       # inner training positives only
            deg = (B.sum(1)[Q[:, 0]] + 1) * (B.sum(0)[Q[:, 1]] + 1)
            auc = [roc_auc_score(yq, v) for v in (gbm, neighbourhood(B, Sm, Sd, Q), deg)]
            print(f"{name:8} {fold:4}  {auc[0]:.3f}  {auc[1]:.3f}          {auc[2]:.3f}", flush=True)

if __name__ == "__main__":
    main()
