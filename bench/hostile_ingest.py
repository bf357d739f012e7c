"""A giant title or heading costs its size once (issue 20): ingestion time, peak memory and index size of a document
whose title or heading holds a megabyte, against its twin with a short one, measured in the same run.

    python -m bench.hostile_ingest [--mb 1.0]

Shapes: an HTML `<title>`, a DOCX core title and a PDF bookmark (metadata: shortened, nothing to embed), and a
Markdown `##` heading that is really a paragraph (its text becomes body text; its twin has the same text as a
paragraph under a short heading, so both embed the same words). Each run is a fresh process (`--one`), so that its
peak memory (ru_maxrss) is its own; the model is the default one. Prints one line per shape with the ratios
giant / twin.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from tests.support.hostile import bookmarked_pdf

ROOT = Path(__file__).resolve().parent.parent
BODY = ("Le Comptoir citoyen a ouvert en octobre 2018 à Angers, après deux années de réflexion sur la réciprocité. "
        "Les habitants y proposent leurs compétences et en reçoivent d'autres en retour. ") * 40
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


_WORDS = ("cohésion sociale territoire habitants gouvernance locale observation partagée démarche ville quartier "
          "partenaires services associations jeunesse politique action engagement réciprocité conseil citoyens "
          "comité experts diagnostic accompagnement coopération institutions élus agents usagers projet")


def _filler(megabytes: float) -> str:
    """Words drawn at random (seeded): text that compresses as prose does, not as a zip bomb would."""
    words = _WORDS.split()
    chooser = random.Random(0)
    count = int(megabytes * 1_048_576 / 10)
    return " ".join(chooser.choice(words) for _ in range(count))


def write_shape(shape: str, giant: bool, folder: Path, megabytes: float) -> None:
    long_text = _filler(megabytes)
    short = "Rapport de synthèse"
    if shape == "html-title":
        title = long_text if giant else short
        (folder / "page.html").write_text(f"<html><head><title>{title}</title></head><body><h1>{short}</h1>"
                                          f"<p>{BODY}</p></body></html>", encoding="utf-8")
    elif shape == "docx-title":
        title = long_text if giant else short
        with zipfile.ZipFile(folder / "note.docx", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("docProps/core.xml", '<cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/'
                             f'elements/1.1/"><dc:title>{title}</dc:title></cp:coreProperties>')
            archive.writestr("word/document.xml", f'<w:document xmlns:w="{_W_NS}"><w:body><w:p><w:r><w:t>{BODY}'
                             "</w:t></w:r></w:p></w:body></w:document>")
    elif shape == "pdf-bookmark":
        (folder / "signets.pdf").write_bytes(bookmarked_pdf(long_text if giant else short, BODY[:2000]))
    elif shape == "md-heading":
        heading, paragraph = (long_text, "") if giant else (short, long_text + "\n\n")
        (folder / "notes.md").write_text(f"## {heading}\n\n{paragraph}{BODY}\n", encoding="utf-8")
    else:
        raise SystemExit(f"unknown shape {shape}")


def one(shape: str, giant: bool, megabytes: float) -> dict[str, float]:
    from index.config import IndexSettings
    from index.embedder import make_embedder
    from ingest.build import ingest

    with tempfile.TemporaryDirectory() as scratch:
        corpus, index_dir = Path(scratch) / "corpus", Path(scratch) / "index"
        corpus.mkdir()
        write_shape(shape, giant, corpus, megabytes)
        settings = IndexSettings(corpus_dir=corpus, index_dir=index_dir)
        embedder = make_embedder(settings)
        embedder.embed_query("échauffement")  # the model's load is not the document's cost
        started = time.perf_counter()
        report = ingest(settings, embedder)
        seconds = time.perf_counter() - started
        size = sum(path.stat().st_size for path in index_dir.rglob("*") if path.is_file())
    return {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "index_mb": size / 1_048_576, "passages": report.passages, "failed": len(report.failed)}


def _measure(shape: str, giant: bool, megabytes: float) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.hostile_ingest", "--one", shape, "--mb", str(megabytes)]
    result = subprocess.run(command + (["--giant"] if giant else []), cwd=ROOT, capture_output=True, text=True,
                            check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="size of the giant title or heading (default 1 MB)")
    parser.add_argument("--shapes", default="html-title,docx-title,pdf-bookmark,md-heading")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--giant", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.one:
        print(json.dumps(one(options.one, options.giant, options.mb)))
        return 0
    print(f"giant title or heading of {options.mb} MB against its twin (ratios giant / twin)")
    for shape in options.shapes.split(","):
        twin, giant = _measure(shape, False, options.mb), _measure(shape, True, options.mb)
        ratio = {key: giant[key] / twin[key] for key in ("seconds", "peak_mb", "index_mb")}
        print(f"  {shape:13} time {giant['seconds']:6.2f} / {twin['seconds']:6.2f} s = {ratio['seconds']:4.2f}×   "
              f"peak {giant['peak_mb']:5.0f} / {twin['peak_mb']:5.0f} MB = {ratio['peak_mb']:4.2f}×   "
              f"index {giant['index_mb']:5.2f} / {twin['index_mb']:5.2f} MB = {ratio['index_mb']:4.2f}×   "
              f"passages {giant['passages']:.0f} / {twin['passages']:.0f}, failed {giant['failed']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
