"""Write the measured blocks of benchmarks/README.md from the benchmark CSVs, so no number there is typed by hand.

Usage: python benchmarks/readme.py           # rewrite every `<!-- gen:NAME -->` ... `<!-- /gen -->` block
       python benchmarks/readme.py --check   # exit 1 (naming the block) if a block differs from its CSV
Each block is built by the function of the same name below from the CSV(s) it names. The prose outside the
blocks carries no measured number.
"""
import argparse, re, sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
AUTHORS_GTMALOC_MIN = 3.5  # shared/reference_runs/README.md: the authors' GTMALoc code, one 10-fold run, 2 free cores


def csv(name: str) -> pd.DataFrame: return pd.read_csv(HERE / name)
def n(x, d: int = 0) -> str: return f"{x:,.{d}f}"
def table(header: list, rows: list) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def gtmaloc_cpu() -> str:
    from rna_papers.gtmaloc.protocol import AUTHORS_CODE
    df, a = csv("gtmaloc_cv.csv"), AUTHORS_CODE[10]
    name = lambda m: "one network" if m == 1 else f"{m}-network ensemble"
    rows = [(name(r.members), n(r.seconds, 1), f"{r.macro_auc:.4f}", f"{r.macro_aupr:.4f}") for r in df.itertuples()]
    rows.append(("authors' released code (reference run)", f"≈ {n(AUTHORS_GTMALOC_MIN * 60)}",
                 f"{a['auc'][0]:.3f}", f"{a['aupr'][0]:.3f}"))
    return table(["classifier", "seconds per 10-fold run", "macro AUC", "macro AUPR"], rows)


def _utr_rows(df: pd.DataFrame, rss: bool) -> list:
    "Table rows, model named on its first row; RSS is the process maximum so far, so CNN rows (run after) omit it."
    rows = []
    for r in df.itertuples():
        first = r.Index == df.index[0] or df.kind[r.Index - 1] != r.kind
        label = (f"UTR-STCNet ({r.params / 1e3:.0f} k parameters)" if r.kind == "stcnet" else "Optimus-style CNN") if first else ""
        row = [label, n(r.length), n(r.train_seq_per_s, 1 if r.train_seq_per_s < 10 else 0), n(r.infer_seq_per_s)]
        rows.append(row + ([f"{r.peak_rss_gb:.2f}" if r.kind == "stcnet" else "—"] if rss else []))
    return rows


def utr_cpu() -> str:
    df = csv("utr_stcnet_speed.csv")
    df = df[(df.kind == "stcnet") | (df.length == 50)].reset_index(drop=True)
    s = df[(df.kind == "stcnet") & (df.length == 50)].iloc[0]
    ok = s.train_seq_per_s >= 300 and s.infer_seq_per_s >= 2000 and s.peak_rss_gb <= 4
    return (table(["model", "length (nt)", "train seq/s", "inference seq/s", "peak RSS (GB)"], _utr_rows(df, True))
            + f"\n\nTargets at 50 nt, batch 128 (issue 6): ≥ 300 seq/s training, ≥ 2,000 seq/s inference, peak RSS ≤ 4 GB"
            f" — **{'met' if ok else 'not met'}** ({n(s.train_seq_per_s)}, {n(s.infer_seq_per_s)}, {s.peak_rss_gb:.1f} GB).")


def utr_gpu() -> str:
    df, cpu = csv("utr_stcnet_speed_gpu.csv"), csv("utr_stcnet_speed.csv")
    g, c = (d[(d.kind == "stcnet") & (d.length == 50)].iloc[0] for d in (df, cpu))
    return (table(["model", "length (nt)", "train seq/s", "inference seq/s"], _utr_rows(df, False))
            + f"\n\nAt 50 nt the GPU trains {g.train_seq_per_s / c.train_seq_per_s:.1f}× faster than the 2-core CPU and "
            f"infers {g.infer_seq_per_s / c.infer_seq_per_s:.1f}× faster.")


def plmf_cpu() -> str:
    df = csv("plmf_mda_throughput.csv")
    rows = [(r.fusion, r.batch_size, r.path, n(r.train_pairs_per_s), n(r.est_5fold_80ep_min)) for r in df.itertuples()]
    pps = df.set_index(["fusion", "batch_size", "path"]).train_pairs_per_s
    ratios = ", ".join(f"{f} {pps[f, b, 'per_entity'] / pps[f, b, 'per_pair']:.1f}×"
                       for f, b in dict.fromkeys(zip(df.fusion, df.batch_size)) if (f, b, "per_pair") in pps)
    return (table(["fusion", "batch", "path", "train pairs/s", "est. 5-fold × 80 epochs (min)"], rows)
            + f"\n\nPer-entity / per-pair throughput in this run: {ratios}.")


def plmf_breakdown() -> str:
    df = csv("plmf_mda_step_breakdown.csv"); df = df[df.batch_size == df.batch_size.min()]   # the paper's batch (32) when run
    v = dict(zip(df.part, df.value)); b = int(df.batch_size.iloc[0]); whole = v.pop("whole training step")
    atoms = v.pop("atoms per step")
    rows = [("whole training step", f"{whole:.1f}", "100%")] + [(k, f"{x:.1f}", f"{x / whole:.0%}") for k, x in v.items()]
    budget = b / 10_000 * 1e3
    return (table(["part (forward + backward)", "ms per step", "share of the step"], rows)
            + f"\n\nBatch {b}, {atoms:.0f} atoms of distinct drugs per step on average. The 10× target (≥ 10,000 pairs/s vector"
            f" fusion) leaves {budget:.1f} ms per step; the measured step takes {whole:.1f} ms ({b / whole * 1e3:,.0f} pairs/s)."
            f" The GCN's dense products alone take {v['drug GCN matmuls only']:.1f} ms; the rest of the GCN (message passing,"
            f" batch norm, dropout masks, pooling) {v['drug GCN'] - v['drug GCN matmuls only']:.1f} ms, the miRNA side"
            f" {v['miRNA side (CNN, RNA view, fusion)']:.1f} ms: {'not met' if whole > budget else 'met'}.")


def plmf_engine() -> str:
    df = csv("plmf_mda_engine.csv")
    rows = [(r.where, r.malloc_trim_threshold, n(r.train_pairs_per_s)) for r in df.itertuples()]
    v = df.set_index("key").train_pairs_per_s; base, eng, dflt = v["in_process"], v["unit_engine"], v["dask_default"]
    r = df.iloc[0]
    return (table(["where the fit runs", "MALLOC_TRIM_THRESHOLD_", "train pairs/s"], rows)
            + f"\n\n{r.dataset}, {r.fusion} fusion, {r.path} path, batch {r.batch_size}, {r.steps} steps, {r.threads} thread."
            f" In this run a worker with Dask's default environment trains at {dflt / base:.2f}× the in-process rate,"
            f" a worker of the unit engine at {eng / base:.2f}× ({eng / dflt:.1f}× the default worker).")


def plmf_gpu() -> str:
    df, cpu = csv("plmf_mda_throughput_gpu.csv"), csv("plmf_mda_throughput.csv")
    rows = [(r.fusion, r.batch_size, n(r.train_pairs_per_s), n(r.est_5fold_80ep_min)) for r in df.itertuples()]
    g = df[(df.fusion == "vector") & (df.batch_size == 32)].train_pairs_per_s.iloc[0]
    c = cpu[(cpu.fusion == "vector") & (cpu.batch_size == 32) & (cpu.path == "per_pair")].train_pairs_per_s.iloc[0]
    return (table(["fusion", "batch", "train pairs/s", "est. 5-fold × 80 epochs (min)"], rows)
            + f"\n\nVector fusion at batch 32, per-pair path: one GPU process / one CPU thread = {g / c:.2f}×.")


BLOCK = re.compile(r"(<!-- gen:(\w+) -->\n)(.*?)(<!-- /gen -->)", re.S)


def render(text: str) -> str:
    "`text` with every generated block rebuilt from its CSV."
    return BLOCK.sub(lambda m: m[1] + globals()[m[2]]() + "\n" + m[4], text)


def main():
    p = argparse.ArgumentParser(); p.add_argument("--check", action="store_true"); a = p.parse_args()
    path = HERE / "README.md"; old = path.read_text(); new = render(old)
    if a.check:
        stale = [m[2] for m, k in zip(BLOCK.finditer(old), BLOCK.finditer(new)) if m[3] != k[3]]
        if stale: sys.exit(f"benchmarks/README.md: block(s) {', '.join(stale)} differ from the CSVs; run python benchmarks/readme.py")
        return
    path.write_text(new)


if __name__ == "__main__":
    main()
