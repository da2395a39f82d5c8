"""Retrain the shipped UTR-STCNet (data/models/utr_stcnet/) without running the whole full profile.

The chapter's `full` profile trains this network (MPRA-H, full-profile settings) and saves it; the
rest of that profile (U/V tasks, baselines, ablations, multi-task) takes hours on a CPU. This script
runs only the MPRA-H UTR-STCNet step of the full profile, with the same library calls and settings,
and writes the weights, model card and manifest.

    RNA_PAPERS_TORCH_THREADS=1 python scripts/train_utr_shipped.py [--device cpu]
"""
import argparse, os
import torch
from rna_papers.core.data import DATA_DIR
from rna_papers.core.profiles import get_device
from rna_papers.utr_stcnet import PROFILES, MODEL_NAME, run_experiment, write_model_card

SEED = 0

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("RNA_PAPERS_TORCH_THREADS", 2)))
    cfg, device = PROFILES["full"], get_device(args.device)
    run = run_experiment(("h",), "stcnet", num_epochs=cfg.num_epochs, patience=cfg.patience, lr_plateau=cfg.lr_plateau,
                         lr=cfg.lr, batch_size=cfg.batch_size, seed=SEED, device=device, d_model=cfg.d_model)
    folder = DATA_DIR / MODEL_NAME
    run["model"].save(folder)
    write_model_card(folder, run["model"], run["scores"]["h"],
                     f"full-profile MPRA-H settings via scripts/train_utr_shipped.py, seed {SEED}, {run['n_train']} training rows, "
                     f"best epoch {run['history'].best_epoch}, AdamW lr {cfg.lr}, batch {cfg.batch_size}, {run['seconds']:.0f} s on {device}")
    print("MPRA-H test:", run["scores"]["h"])

if __name__ == "__main__":
    main()
