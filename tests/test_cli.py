"""The `rna-papers` command line as a user meets it: every bad input is one line on stderr and a non-zero exit
code, never a traceback; warnings are one line each; `| head` is quiet; `--help` imports nothing heavy.

Every case runs the installed console script (`rna-papers ...`) in a subprocess; a subset also runs
`python -m rna_papers.cli ...`. All input files are synthetic, written to pytest's `tmp_path`.
"""
import os, random, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "data" / "models"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0   # root reads and writes anything: no permission cases


def _has_cuda() -> bool:
    r = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"], capture_output=True, text=True)
    return r.stdout.strip() == "True"


HAS_CUDA = _has_cuda()
PAPERS = {  # CLI command -> (shipped model folder, a valid predict command)
    "gtmaloc": ("gtmaloc", ["predict", "--mirna", "hsa-mir-21"]),
    "plmf-mda": ("plmf_mda", ["predict", "--mirna-seq", "UAGCUUAUCAGACUGAUGUUGA", "--smiles", "CCO"]),
    "utr": ("utr_stcnet", ["predict", "--fasta", "{ok}"]),
}


def _utr(rng: random.Random, n: int = 50) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def _synthetic_inputs(d: Path) -> dict[str, str]:
    "Synthetic inputs (random sequences, no data from any study) and broken copies of the shipped model folders."
    rng = random.Random(0)
    (d / "ok.fa").write_text("".join(f">synthetic_utr_{i} synthetic\n{_utr(rng)}\n" for i in range(3)))
    (d / "dup.fa").write_text("".join(f">synthetic_dup synthetic\n{_utr(rng)}\n" for _ in range(2)))
    (d / "latin1.fa").write_bytes(b">synthetic_utr synthetic caf\xe9\nACGUACGUACGUACGUACGUACGUACGUACGUACGUACGUACGUACGUAC\n")
    (d / "not_fasta.txt").write_text("synthetic: a line of prose, not a FASTA record\n")
    (d / "empty.fa").write_text("")
    (d / "unreadable.fa").write_text(">synthetic\nACGU\n"); os.chmod(d / "unreadable.fa", 0)
    (d / "a_folder").mkdir(); (d / "empty_folder").mkdir()
    (d / "a_file").write_text("synthetic: a file where a folder is expected\n")
    (d / "read_only").mkdir(); os.chmod(d / "read_only", 0o555)
    paths = {p.stem: str(p) for p in d.iterdir()}
    for model in ("gtmaloc", "plmf_mda", "utr_stcnet"):   # a copy of the shipped folder with one byte flipped
        dst = d / f"flipped_{model}"; shutil.copytree(MODELS / model, dst)
        listed = [l.split("\t")[0] for l in (dst / "MANIFEST.tsv").read_text().splitlines()[1:] if l.strip()]
        victim = min(listed, key=lambda p: (-(dst / p).stat().st_size, p))  # the largest (mdr/ of plmf_mda)
        b = bytearray((dst / victim).read_bytes()); b[len(b) // 2] ^= 0xFF; (dst / victim).write_bytes(bytes(b))
        paths[f"flipped_{model}"], paths[f"victim_{model}"] = str(dst), Path(victim).name
    return {"tmp": str(d), **paths}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_inputs")
    yield _synthetic_inputs(d)
    os.chmod(d / "unreadable.fa", 0o644); os.chmod(d / "read_only", 0o755)


def _predict(cmd: str, *extra: str) -> list[str]:
    return [cmd, *PAPERS[cmd][1], *extra]


# (id, argv, expected substrings of the one stderr line, extra environment, skip reason or None)
ERR = "error"
CASES = [
    ("fasta-missing", ["utr", "predict", "--fasta", "{tmp}/missing.fa"], ["missing.fa"], {}, None),
    ("fasta-directory", ["utr", "predict", "--fasta", "{a_folder}"], ["a_folder", "directory"], {}, None),
    ("fasta-unreadable", ["utr", "predict", "--fasta", "{unreadable}"], ["unreadable.fa", "ermission"], {},
     "running as root: root can read a chmod-000 file" if IS_ROOT else None),
    ("fasta-not-utf8", ["utr", "predict", "--fasta", "{latin1}"], ["latin1.fa", "UTF-8"], {}, None),
    ("fasta-not-fasta", ["utr", "predict", "--fasta", "{not_fasta}"], ["not_fasta.txt", "FASTA"], {}, None),
    ("fasta-empty", ["utr", "predict", "--fasta", "{empty}"], ["empty.fa"], {}, None),
    ("fasta-not-given", ["utr", "predict"], ["--fasta"], {}, None),
    *[(f"{c}-model-dir-missing", _predict(c, "--model-dir", "{tmp}/no_such_model"), ["no_such_model"], {}, None) for c in PAPERS],
    *[(f"{c}-model-dir-empty-folder", _predict(c, "--model-dir", "{empty_folder}"), ["empty_folder"], {}, None) for c in PAPERS],
    *[(f"{c}-model-dir-is-file", _predict(c, "--model-dir", "{a_file}"), ["a_file"], {}, None) for c in PAPERS],
    *[(f"{c}-model-dir-flipped-byte", _predict(c, "--model-dir", f"{{flipped_{m}}}"), [f"{{victim_{m}}}"], {}, None)
      for c, (m, _) in PAPERS.items()],
    *[(f"{c}-device-cuda", _predict(c, "--device", "cuda"), ["cuda", "not available"], {},
       "CUDA is available here" if HAS_CUDA else None) for c in PAPERS],
    ("run-device-cuda", ["run", "gtmaloc", "--device", "cuda", "--out", "{tmp}/out_cuda"], ["cuda", "not available"], {},
     "CUDA is available here" if HAS_CUDA else None),
    ("book-device-cuda", ["book", "--device", "cuda", "--out", "{tmp}/out_book"], ["cuda", "not available"], {},
     "CUDA is available here" if HAS_CUDA else None),
    ("run-out-is-file", ["run", "gtmaloc", "--device", "cpu", "--out", "{a_file}"], ["a_file", "not a folder"], {}, None),
    ("run-out-under-file", ["run", "gtmaloc", "--device", "cpu", "--out", "{a_file}/sub"], ["a_file", "cannot create"], {}, None),
    ("run-out-unwritable", ["run", "gtmaloc", "--device", "cpu", "--out", "{read_only}/sub"], ["read_only", "cannot create"], {},
     "running as root: root can write into a read-only folder" if IS_ROOT else None),
    ("run-unknown-chapter", ["run", "nope"], ["unknown chapter 'nope'", "gtmaloc", "plmf_mda", "utr_stcnet"], {}, None),
    ("run-unknown-profile", ["run", "gtmaloc", "--profile", "fast"], ["invalid choice: 'fast'"], {}, None),
    ("gtmaloc-empty-mirna", ["gtmaloc", "predict", "--mirna", ""], ["mirna"], {}, None),
    ("plmf-mda-empty-mirna", ["plmf-mda", "predict", "--mirna-seq", "", "--smiles", "CCO"], ["mirna"], {}, None),
    ("plmf-mda-empty-smiles", ["plmf-mda", "predict", "--mirna-seq", "UAGCUUAUCAGACUGAUGUUGA", "--smiles", ""], ["smiles"], {}, None),
    *[(f"{c}-data-env-missing", _predict(c), ["no_data_here"], {"RNA_PAPERS_DATA": "{tmp}/no_data_here"}, None) for c in PAPERS],
    ("unknown-command", ["frobnicate"], ["invalid choice"], {}, None),
    ("utr-duplicate-ids-warns", ["utr", "predict", "--fasta", "{dup}"], ["duplicate", "synthetic_dup"], {}, None),  # warning
]
WARNING_CASES = {"utr-duplicate-ids-warns"}
MODULE_TOO = {"fasta-missing", "fasta-not-utf8", "utr-model-dir-flipped-byte", "run-device-cuda", "run-out-is-file",
              "run-unknown-chapter", "utr-duplicate-ids-warns"}
LAUNCHERS = {"rna-papers": ["rna-papers"], "python -m": [sys.executable, "-m", "rna_papers.cli"],
             "python -m rna_papers": [sys.executable, "-m", "rna_papers"]}
PARAMS = [pytest.param(launcher, case, id=f"{case[0]}[{launcher}]",
                       marks=[pytest.mark.skip(reason=case[4])] if case[4] else [])
          for case in CASES for launcher in (["rna-papers", "python -m"] if case[0] in MODULE_TOO else ["rna-papers"])]


def _fill(s: str, inputs: dict) -> str:
    return s.format(**inputs)


def _cli(argv: list[str], env: dict | None = None, launcher: str = "rna-papers", timeout: int = 300):
    e = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), **(env or {})}
    e.pop("RNA_PAPERS_TRACEBACK", None)
    return subprocess.run([*LAUNCHERS[launcher], *argv], capture_output=True, text=True, cwd=ROOT, env=e, timeout=timeout)


@pytest.mark.parametrize("launcher, case", PARAMS)
def test_bad_input_is_one_line(launcher, case, inputs):
    name, argv, expected, env, _ = case
    r = _cli([_fill(a, inputs) for a in argv], {k: _fill(v, inputs) for k, v in env.items()}, launcher)
    lines = r.stderr.splitlines()
    assert "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
    if name in WARNING_CASES:
        assert r.returncode == 0, r.stderr
        assert lines and all(l.startswith("rna-papers: warning: ") for l in lines), r.stderr
    else:
        assert r.returncode != 0, f"exit 0 for bad input; stdout: {r.stdout[-500:]}"
        assert len(lines) == 1 and lines[0].startswith("rna-papers: error: "), r.stderr
    for s in expected: assert _fill(s, inputs).lower() in r.stderr.lower(), (s, r.stderr)


def test_head_is_quiet(tmp_path):
    "`rna-papers utr predict ... | head -1` on a 3,000-record synthetic FASTA: no traceback, nothing on stderr."
    rng = random.Random(1)   # IDs long enough that the output (> 150 kB) cannot fit into the pipe's buffer
    fa = tmp_path / "synthetic_3000.fa"
    fa.write_text("".join(f">synthetic_utr_{i:05d}_{'x' * 40} synthetic\n{_utr(rng)}\n" for i in range(3000)))
    sh = f'rna-papers utr predict --fasta "{fa}" 2>"{tmp_path}/err" | head -1; echo "${{PIPESTATUS[0]}}" >"{tmp_path}/code"'
    r = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, cwd=ROOT, timeout=600,
                       env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    err = (tmp_path / "err").read_text()
    assert err == "", err[-3000:]
    assert len(r.stdout.splitlines()) == 1, r.stdout[:500]
    # 141 (128 + SIGPIPE, as a shell reports for `cat`) when a write fails; 0 when the OS accepted the whole output
    # before the reader left (one large write to a pipe can end that way, as with coreutils)
    assert (tmp_path / "code").read_text().strip() in ("141", "0")


def test_run_accepts_the_paper_command_spellings():
    from rna_papers.runner import find_chapters, resolve_chapter
    chapters = find_chapters()
    for typed, name in [("plmf-mda", "plmf_mda"), ("utr", "utr_stcnet"), ("utr-stcnet", "utr_stcnet"), ("gtmaloc", "gtmaloc"),
                        ("plmf_mda", "plmf_mda")]:
        assert resolve_chapter(typed, chapters) == name
    with pytest.raises(ValueError, match=r"^unknown chapter 'utr_stc'; known chapters: [^\n]*utr_stcnet[^\n]*$"):
        resolve_chapter("utr_stc", chapters)


HEAVY = ("torch", "pandas", "papermill", "nbformat", "transformers", "sklearn", "rdkit", "torch_geometric", "matplotlib")


@pytest.mark.parametrize("argv", [[], ["--help"], ["run", "--help"], ["gtmaloc", "predict", "--help"],
                                  ["plmf-mda", "predict", "--help"], ["utr", "predict", "--help"]],
                         ids=lambda a: " ".join(a) or "import")
def test_help_imports_nothing_heavy(argv):
    "`--help` must answer at once (issue: <= 1.5 s): the import of the CLI and each help imports no heavy library."
    code = ("import sys, contextlib, io\nimport rna_papers.cli as c\n"
            f"argv = {argv!r}\n"
            "if argv:\n    out = io.StringIO()\n    with contextlib.redirect_stdout(out): rc = c.main(argv)\n"
            "    assert rc == 0 and 'usage' in out.getvalue(), (rc, out.getvalue())\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "[]", f"{' '.join(argv) or 'import rna_papers.cli'} imports {r.stdout.strip()}"


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_help_exits_zero(launcher):
    r = _cli(["--help"], launcher=launcher)
    assert r.returncode == 0 and "usage: rna-papers" in r.stdout and r.stderr == "", r


def test_broken_pipe_is_quiet_with_exit_141(tmp_path):
    "A command printing line by line into `| head -1`: main notices the closed pipe, says nothing and exits 141."
    prog = ("import sys, rna_papers.cli as c\n"
            "def many(argv):\n    for i in range(200000): print(f'synthetic line {i}')\n    return 0\n"
            "c._dispatch = many\nsys.exit(c.main([]))")
    sh = f'{sys.executable} -c "$PROG" 2>"{tmp_path}/err" | head -1; echo "${{PIPESTATUS[0]}}" >"{tmp_path}/code"'
    r = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, env={**os.environ, "PROG": prog}, timeout=120)
    assert r.stdout == "synthetic line 0\n" and (tmp_path / "err").read_text() == ""
    assert (tmp_path / "code").read_text().strip() == "141"
