"Core behaviour that does not belong in the prose: shipped manifests, CLI errors, the runner contract."
import json, os, subprocess, sys
from pathlib import Path

import pytest

from rna_papers.core.data import DATA_DIR, DataIntegrityError, data_file, fetch_upstream, list_datasets, verify_dataset, write_manifest
from rna_papers.runner import toc_chapters, toc_files

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "chapters"


@pytest.mark.parametrize("name", list_datasets() or ["<none shipped>"])
def test_shipped_dataset_matches_manifest(name):
    assert name != "<none shipped>", f"no dataset with a MANIFEST.tsv under {DATA_DIR}"
    folder = verify_dataset(name)
    assert (folder / "PROVENANCE.md").exists() or (folder / "MODEL_CARD.md").exists(), f"{name}: no PROVENANCE.md / MODEL_CARD.md"


def test_altered_file_is_named(tmp_path, monkeypatch):
    import rna_papers.core.data as d
    (tmp_path / "ds").mkdir(); (tmp_path / "ds" / "x.csv").write_text("a,b\n1,2\n")
    (tmp_path / "up").mkdir()
    write_manifest(tmp_path / "ds", upstream={"x.csv": (tmp_path / "up" / "x.csv").as_uri()})
    monkeypatch.setattr(d, "DATA_DIR", tmp_path)
    (tmp_path / "ds" / "x.csv").write_text("a,b\n1,3\n")
    with pytest.raises(DataIntegrityError, match=r"checksum mismatch for x.csv: expected sha256 [0-9a-f]{64}, found [0-9a-f]{64}"):
        data_file("ds", "x.csv")
    (tmp_path / "up" / "x.csv").write_text("a,b\n1,2\n")     # upstream copy over file://
    fetch_upstream("ds", "x.csv")
    assert data_file("ds", "x.csv").read_text() == "a,b\n1,2\n"


def test_restore_hint_offers_only_direct_downloads(tmp_path, monkeypatch):
    "A web page, an archive or a derived file is not offered for fetch_upstream; the hint says where the file came from."
    import rna_papers.core.data as d
    (tmp_path / "ds").mkdir()
    for f in ("a.csv", "b.csv", "c.csv"): (tmp_path / "ds" / f).write_text("x\n")
    write_manifest(tmp_path / "ds", upstream={"a.csv": "https://github.com/o/r/blob/abc/a.csv",
                                             "b.csv": "https://example.org/data.rar", "c.csv": "derived: a.csv rows 1-9"})
    monkeypatch.setattr(d, "DATA_DIR", tmp_path)
    for f in ("a.csv", "b.csv", "c.csv"): (tmp_path / "ds" / f).unlink()
    for f, where in [("a.csv", "extracted from https://github.com"), ("b.csv", "extracted from https://example.org/data.rar"),
                     ("c.csv", "derived from a.csv rows 1-9")]:
        with pytest.raises(DataIntegrityError) as e: data_file("ds", f)
        assert where in str(e.value) and "fetch_upstream" not in str(e.value)
        with pytest.raises(DataIntegrityError, match="no direct download"): fetch_upstream("ds", f)


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-c", "import sys; from rna_papers.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("args, msg", [
    (["run", "no_such_chapter"], "unknown chapter 'no_such_chapter'"),
    (["run", "gtmaloc", "--profile", "fast"], "invalid choice: 'fast'"),
    (["book", "--profile", "huge"], "invalid choice: 'huge'"),
    (["run", "gtmaloc", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["nonsense"], "invalid choice"),
])
def test_cli_bad_input_is_one_line(args, msg):
    r = _cli(*args)
    assert r.returncode == 2, r
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_console_script_installed():
    r = subprocess.run(["rna-papers", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "book" in r.stdout


def test_runner_contract_on_fixture(tmp_path):
    from rna_papers.runner import ChapterFailed, run_chapter
    m = run_chapter("toy", "smoke", "cpu", tmp_path, nbs_dir=FIXTURES)
    on_disk = json.loads((tmp_path / "toy.metrics.json").read_text())
    assert on_disk == m and {"profile", "device", "seconds", "score"} <= set(m) and m["device"] == "cpu"
    assert all(isinstance(v, (int, float, str)) for v in m.values())       # flat
    executed = json.loads((tmp_path / "toy.ipynb").read_text())
    fig_cell = next(c for c in executed["cells"] if "must keep it as a PNG" in "".join(c["source"]))
    assert any("image/png" in o.get("data", {}) for o in fig_cell["outputs"]), "figure saved as text only"
    with pytest.raises(ChapterFailed, match=r"failed in cell \d+ .*ZeroDivisionError"):
        run_chapter("broken", "smoke", "cpu", tmp_path, nbs_dir=FIXTURES)


def test_toc_lists_existing_notebooks():
    missing = [p for p in toc_files(ROOT / "_toc.yml") if not p.exists()]
    assert not missing, f"_toc.yml lists notebooks that do not exist: {missing}"


def test_nbdev_in_sync_and_notebook_checks_pass():
    "Runs nbdev_test (core notebooks; chapters are skip_exec and run once in test_notebooks.py)."
    r = subprocess.run(["nbdev_test", "--n_workers", "2"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "Success" in r.stdout, r.stdout[-2000:] + r.stderr[-4000:]


# --- the book's pages for readers (issue 16): staging, tables, the book command ---------------------------------

def _executed_chapter():
    "A chapter as papermill leaves it (synthetic): parameters + injected cell, imports, a noisy cell, a figure cell."
    import nbformat
    from rna_papers.core.data import REPO_ROOT
    code, out = nbformat.v4.new_code_cell, nbformat.v4.new_output
    params = code('PROFILE = "smoke"   # profile\nSTORE = None        # results store'); params.metadata["tags"] = ["parameters"]
    inj = code(f'# Parameters\nPROFILE = "full"\nSTORE = "{REPO_ROOT / "results" / "full" / "units"}"\n')
    inj.metadata["tags"] = ["injected-parameters"]
    noisy = code("train()")
    noisy.outputs = [out("stream", name="stderr", text=f"{sys.prefix}/lib/x.py:3: UserWarning: w\n"),
                     out("stream", name="stdout", text="epoch 1 loss 0.5\n100%|##########| 10/10 [00:02<00:00,  4.1it/s]\n"),
                     out("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "a"}, "text/plain": "  0%|"}),
                     out("execute_result", data={"text/plain": f"wrote {REPO_ROOT}/results/full/x.csv"}, execution_count=3)]
    return nbformat.v4.new_notebook(cells=[params, inj, code("import torch\nfrom fastcore.test import test_eq"), noisy,
                                           code("#| export\n" + "\n".join(f"a{i} = {i}" for i in range(40)))])


def test_staged_page_has_no_stderr_progress_injected_cell_or_machine_path():
    from rna_papers.book import stage_notebook
    staged = stage_notebook(_executed_chapter())
    text = json.dumps(staged.cells)
    assert "injected-parameters" not in text and "stderr" not in text and "widget-view" not in text and "it/s]" not in text
    assert sys.prefix not in text and str(ROOT) not in text, text
    assert staged.cells[0].source.startswith('PROFILE = "full"') and "STORE = None" in staged.cells[0].source
    tags = [c.metadata.get("tags", []) for c in staged.cells]
    assert tags[1] == ["remove-cell"] and tags[3] == ["hide-input"], tags       # imports removed, long export folded
    assert [o.get("text") or o["data"]["text/plain"] for o in staged.cells[2].outputs] == ["epoch 1 loss 0.5\n", "wrote results/full/x.csv"]


def test_show_table_has_no_index_or_nan():
    import numpy as np, pandas as pd
    from rna_papers.core.plot import show_table
    html = show_table(pd.DataFrame({"metric": ["auc", "aupr"], "ours": [0.874111, np.nan], "seconds": [4779.6, 51.2]})).to_html()
    assert "NaN" not in html and "nan" not in html and "row_heading" not in html
    assert "0.8741" in html and "—" in html and "80 min" in html and "51 s" in html


def test_paper_table_from_committed_full_metrics():
    from rna_papers.book import PAPER_RESULTS, paper_table
    t = paper_table()
    assert len(t) == len(PAPER_RESULTS)
    assert list(t.columns[:9]) == ["chapter", "metric", "paper", "authors' code (run by us)", "strongest simple baseline",
                                   "baseline", "ours", "± sd", "Δ to paper"]
    stored = t[(t.profile == "full") & t["ours"].notna()]
    assert len(stored), "no full-profile headline metric under results/full"
    assert ((stored["ours"] - stored["paper"] - stored["Δ to paper"]).abs() < 1e-12).all()


def test_book_defaults_to_the_full_profile():
    from rna_papers.cli import _parser
    from rna_papers.book import book_out_dir
    assert _parser().parse_args(["book"]).profile == "full" and _parser().parse_args(["run", "x"]).profile == "smoke"
    assert book_out_dir("full") == ROOT / "_build" / "executed-full"        # never results/full: committed files stay
