"""The read stage alone (`ingest.load.load_document`, no embedding), today's readers against a baseline's, in one run.

    .venv/bin/python -m bench.read_stage [--baseline REV] [--pages 200] [--small 300] [--rounds 3]

The baseline is `ingest/load.py` as it stood at git revision REV (default: HEAD), loaded as a module of its own
beside today's. Both read the same files, in turn, `--rounds` times; printed: the median seconds of each and their
ratio, for the generated 200-page report (`bench.report_pdf`) and for a corpus of many small HTML and DOCX files
(the sample corpus's HTML and DOCX documents, copied `--small` times with a line changed so that none is cached).
Issue 22's goal: each ratio ≤ 1.5. Needs fpdf2 (dev extras) and the DejaVu fonts.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from bench.report_pdf import write_report
from ingest import load as today

ROOT = Path(__file__).resolve().parent.parent


def baseline_module(revision: str, folder: Path) -> ModuleType:
    source = subprocess.run(["git", "show", f"{revision}:ingest/load.py"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    path = folder / "baseline_load.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("baseline_load", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_corpus(folder: Path, copies: int) -> list[Path]:
    import docx

    sources = [path for path in sorted((ROOT / "corpus").iterdir()) if path.suffix in (".html", ".docx")]
    made = []
    for number in range(copies):
        for source in sources:
            target = folder / f"{source.stem}-{number:04d}{source.suffix}"
            if source.suffix == ".html":
                text = source.read_text(encoding="utf-8")
                target.write_text(text.replace("</body>", f"<p>Copie {number}.</p></body>"), encoding="utf-8")
            else:
                document = docx.Document(str(source))
                document.add_paragraph(f"Copie {number}.")
                document.save(str(target))
            made.append(target)
    return made


def read_all(module: ModuleType, files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        module.load_document(path, path.name, 200 * 1_048_576)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        baseline = baseline_module(options.baseline, folder)
        report = folder / "rapport.pdf"
        write_report(report, options.pages)
        small_folder = folder / "small"
        small_folder.mkdir()
        small = small_corpus(small_folder, options.small)
        for name, files in ((f"report of {options.pages} pages", [report]),
                            (f"{len(small)} small HTML and DOCX files", small)):
            times: dict[str, list[float]] = {"baseline": [], "today": []}
            for _ in range(options.rounds):
                times["baseline"].append(read_all(baseline, files))
                times["today"].append(read_all(today, files))
            base, now = statistics.median(times["baseline"]), statistics.median(times["today"])
            print(f"{name}: baseline ({options.baseline}) {base:.2f} s, today {now:.2f} s: "
                  f"{now / base:.2f}× (goal ≤ 1.5×)")
        shutil.rmtree(small_folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
