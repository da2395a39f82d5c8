"""No absolute path of a development machine in the package, the notebooks (sources and outputs), the committed
results or the data folders' documentation (issue 12): such a path is wrong on every other machine and says more
about the machine than a reader needs.

The patterns are assembled from pieces so that this file does not match itself (tests/ is not scanned anyway).
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_S = "/"
PATTERNS = [_S + "work" + _S, _S + "tmp" + _S, _S + "root" + _S, _S + "home" + _S, "site" + "-packages"]
MACHINE_PATH = re.compile("|".join(re.escape(p) for p in PATTERNS))
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".so"}


def scanned_files() -> list[Path]:
    "Every file of rna_papers/, nbs/ and results/, every data/**/*.md and the README (caches and compiled files left out)."
    def walk(folder: Path, pattern: str = "*"):
        return [p for p in sorted(folder.rglob(pattern)) if p.is_file() and p.suffix not in SKIP_SUFFIXES
                and not SKIP_DIRS & set(p.relative_to(ROOT).parts)]
    return [*walk(ROOT / "rna_papers"), *walk(ROOT / "nbs"), *walk(ROOT / "results"), *walk(ROOT / "data", "*.md"),
            ROOT / "README.md"]


def machine_path_hits(files: list[Path]) -> list[str]:
    "'file:line: text' for every line holding a machine path (binary files are read as latin-1)."
    hits = []
    for f in files:
        raw = f.read_bytes()
        try: text = raw.decode("utf-8")
        except UnicodeDecodeError: text = raw.decode("latin-1")
        for i, line in enumerate(text.splitlines(), 1):
            m = MACHINE_PATH.search(line)
            if m: hits.append(f"{f.relative_to(ROOT) if f.is_relative_to(ROOT) else f.name}:{i}: ...{line[max(0, m.start() - 40): m.end() + 40].strip()}...")
    return hits


def test_scan_covers_the_folders():
    files = scanned_files()
    for part in ("rna_papers", "nbs", "results"):
        assert any(p.relative_to(ROOT).parts[0] == part for p in files), f"nothing scanned under {part}/"


def test_pattern_finds_a_machine_path(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("ok line\nsaved to " + _S + "home" + _S + "someone" + _S + "x.csv\n")
    hits = machine_path_hits([bad])
    assert len(hits) == 1 and hits[0].startswith("bad.md:2: "), hits
    assert not MACHINE_PATH.search("data/models/utr_stcnet/model.safetensors")


def test_no_machine_paths():
    hits = machine_path_hits(scanned_files())
    assert not hits, f"{len(hits)} machine path(s):\n" + "\n".join(hits)
