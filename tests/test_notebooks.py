"""Integration tests: every chapter listed in `_toc.yml` runs through `rna-papers run` (papermill) once.

Default: profile `smoke` on the CPU. `RNA_PAPERS_PROFILE=full` (and `RNA_PAPERS_DEVICE=cuda`, the
default for full) switches to the papers' protocols for a GPU runner. Executed copies land in
`_build/executed/` (or `$RNA_PAPERS_EXECUTED`), where `rna-papers book` reuses them.
"""
import json, os, subprocess, sys
from pathlib import Path

import pytest

from conftest import run_profile
from rna_papers.core.profiles import EXECUTED_DIR, check_thresholds
from rna_papers.runner import toc_chapters

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = list(toc_chapters(ROOT / "_toc.yml"))


def test_toc_lists_chapters():
    assert CHAPTERS, "_toc.yml lists no chapter notebook (a notebook with a `parameters` cell): nothing would be tested"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_executes_and_meets_thresholds(chapter):
    profile, device = run_profile()
    out = Path(EXECUTED_DIR)
    r = subprocess.run(["rna-papers", "run", chapter, "--profile", profile, "--device", device, "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, f"rna-papers run {chapter} failed:\n{r.stderr[-3000:]}"
    metrics = json.loads((out / f"{chapter}.metrics.json").read_text())
    assert metrics["profile"] == profile
    thresholds = json.loads((out / f"{chapter}.thresholds.json").read_text())
    assert thresholds, f"chapter {chapter} declares no thresholds for profile {profile}"
    assert not check_thresholds(metrics, thresholds), f"{chapter}: {check_thresholds(metrics, thresholds)}"
    executed = json.loads((out / f"{chapter}.ipynb").read_text())
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert any(k.endswith("image/png") for o in outputs for k in o.get("data", {})), f"{chapter}: no figure was saved as an image"
    bare = [c["source"][:80] for c in executed["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert not bare, f"{chapter}: figures shown bare, not glued for a captioned {{glue:figure}}: {bare[:3]}"
    stray = [o["data"]["text/plain"] for o in outputs if o.get("data", {}).keys() == {"text/plain"}
             and "<Figure size" in "".join(o["data"]["text/plain"])]
    assert not stray, f"{chapter}: figures kept as text only: {stray[:3]}"
