"""Our HTML reader against a main-content extractor (trafilatura), on the HTML documents of the reading cases and of
the sample corpus: which facts each keeps, and how much chrome each lets through (issue 22).

    .venv/bin/pip install trafilatura   # for this comparison only: not a dependency of the project
    .venv/bin/python -m bench.html_extractors

For every HTML file of a case, each expected fact (`all` of its questions.jsonl) is looked for in the text each
reader gives (without case and accents); for every HTML file, the words each keeps, and the chrome phrases
(« Mentions légales », « Plan du site », « cookies »…) found in it.
"""

from __future__ import annotations

import json
from pathlib import Path

from index.evaluate import comparable
from ingest.load import decode_text, load_document

ROOT = Path(__file__).resolve().parent.parent
CASES = [ROOT / "tests" / "cases", ROOT.parent / "shared" / "cases"]
CHROME = ("mentions legales", "plan du site", "cookies", "accueil >", "se connecter", "newsletter", "suivez-nous")


def _ours(path: Path) -> str:
    document = load_document(path, path.name, 50 * 1_048_576)
    return "\n".join(paragraph.text for paragraph in document.paragraphs)


def _trafilatura(path: Path) -> str:
    import trafilatura

    html = decode_text(path.read_bytes(), "html")
    return trafilatura.extract(html, include_tables=True, include_comments=False, favor_recall=True) or ""


def main() -> None:
    readers = {"ours": _ours, "trafilatura": _trafilatura}
    facts = {name: [0, 0] for name in readers}
    for root in CASES:
        for case in sorted(root.glob("*")) if root.exists() else []:
            pages = sorted(case.glob("corpus/*.htm*"))
            questions = case / "questions.jsonl"
            if not pages or not questions.exists():
                continue
            wanted = [group for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()
                      for group in json.loads(line).get("all", [])]
            for name, read in readers.items():
                text = comparable(" ".join(read(page) for page in pages))
                held = sum(any(comparable(option) in text for option in group) for group in wanted)
                facts[name][0] += held
                facts[name][1] += len(wanted)
                missed = [group[0] for group in wanted if not any(comparable(o) in text for o in group)]
                print(f"{case.name:<32} {name:<12} facts {held}/{len(wanted)}"
                      + (f"  missing: {missed}" if missed else ""))
    for name, (held, total) in facts.items():
        print(f"facts kept, all cases: {name:<12} {held}/{total}")
    pages = sorted((ROOT / "corpus").glob("*.htm*")) + [page for root in CASES if root.exists()
                                                         for page in sorted(root.glob("*/corpus/*.htm*"))]
    for name, read in readers.items():
        words = chrome = 0
        for page in pages:
            text = read(page)
            words += len(text.split())
            chrome += sum(phrase in comparable(text) for phrase in CHROME)
        print(f"{len(pages)} HTML files, {name:<12} {words} words kept, {chrome} chrome phrases let through")


if __name__ == "__main__":
    main()
