import os, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_profile() -> tuple[str, str]:
    "Profile and device for the notebook tests: smoke on CPU unless RNA_PAPERS_PROFILE/RNA_PAPERS_DEVICE say otherwise."
    profile = os.environ.get("RNA_PAPERS_PROFILE", "smoke")
    device = os.environ.get("RNA_PAPERS_DEVICE", "cuda" if profile == "full" else "cpu")
    return profile, device


def load_script(name: str):
    "Import `scripts/<name>.py` as a module (the full-run scripts are not part of the package)."
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod
