"The measured tables of benchmarks/README.md are written from the benchmark CSVs by benchmarks/readme.py."
import importlib.util

from conftest import ROOT


def readme_module():
    spec = importlib.util.spec_from_file_location("bench_readme", ROOT / "benchmarks" / "readme.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_readme_tables_match_their_csvs():
    mod, text = readme_module(), (ROOT / "benchmarks" / "README.md").read_text()
    names = [m[2] for m in mod.BLOCK.finditer(text)]
    assert names == ["gtmaloc_cpu", "utr_cpu", "utr_gpu", "plmf_cpu", "plmf_breakdown", "plmf_engine", "plmf_gpu"]
    assert mod.render(text) == text, "run: python benchmarks/readme.py"


def test_a_hand_edited_number_is_caught():
    mod, text = readme_module(), (ROOT / "benchmarks" / "README.md").read_text()
    block = next(mod.BLOCK.finditer(text))[3]
    edited = text.replace(block, block.replace("|", "| 1", 1))
    assert edited != text and mod.render(edited) == text
