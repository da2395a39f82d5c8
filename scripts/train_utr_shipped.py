"""Retrain the shipped UTR-STCNet (data/models/utr_stcnet/) without running the whole full profile.

The chapter's `full` profile trains this network (MPRA-H, full-profile settings) and saves it; the
rest of that profile (U/V tasks, baselines, ablations, multi-task) takes hours on a CPU. This script
runs only the MPRA-H UTR-STCNet step of the full profile, with the same library calls and settings,
and writes the weights, model card and manifest.

    RNA_PAPERS_TORCH_THREADS=1 python scripts/train_utr_shipped.py [--device cpu]
"""
import argparse, os
import torch
from rna_papers.core.profiles import get_device
from rna_papers.utr_stcnet.protocol import PROFILES, run_experiment
from rna_papers.utr_stcnet.shipped import save_shipped_model

SEED = 0

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("RNA_PAPERS_TORCH_THREADS", 2)))
    cfg, device = PROFILES["full"], get_device(args.device)
    run = run_experiment(("h",), "stcnet", **cfg.fit_kwargs(), seed=SEED, device=device, d_model=cfg.d_model)
    save_shipped_model(run, cfg, f"full-profile MPRA-H settings via scripts/train_utr_shipped.py on {device}", SEED)
    print("MPRA-H test:", run["scores"]["h"])

if __name__ == "__main__":
    main()
