"""The shipped sample corpus: it ingests cleanly, covers the facts, and the dev questions find their answers."""

import json
from pathlib import Path

import pytest

from index.config import IndexSettings
from index.lexical import fold
from index.render_text import matches_expected
from index.retriever import Retriever
from index.store import IndexSnapshot
from ingest.build import ingest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def shipped(shipped_index, embedder):
    settings = IndexSettings(corpus_dir=ROOT / "corpus", index_dir=shipped_index)
    report = ingest(settings, embedder)  # up to date: reports what the index holds without rebuilding it
    return settings, report


def _all_text(settings) -> str:
    snapshot = IndexSnapshot.open(settings.index_dir)
    try:
        rows = range(snapshot.manifest.passages)
        return "\n".join(f"{p.title} {p.section} {p.text}" for p in snapshot.passages(list(rows)).values())
    finally:
        snapshot.close()


def test_the_corpus_ingests_without_failure(shipped):
    _, report = shipped
    assert report.failed == ()
    assert report.documents == 15
    assert {source.rsplit(".", 1)[1] for source in (*report.added, *report.unchanged)} == {"pdf", "md", "html", "docx"}


def test_every_document_says_it_is_a_reconstituted_sample(shipped):
    settings, _ = shipped
    snapshot = IndexSnapshot.open(settings.index_dir)
    try:
        for document in snapshot.documents():
            first = snapshot.passages(snapshot.document_rows(document.source)[:2])
            assert any("corpus d’exemple" in fold(p.text).replace("'", "’") for p in first.values()), document.source
    finally:
        snapshot.close()


def test_each_case_study_belongs_to_its_site(shipped):
    settings, _ = shipped
    snapshot = IndexSnapshot.open(settings.index_dir)
    try:
        sites = {d.source: d.site for d in snapshot.documents()}
        assert len(snapshot.sites()) == 11
    finally:
        snapshot.close()
    assert sites["cas-le-havre.pdf"] == "Le Havre"
    assert sites["cas-garges-les-gonesse.pdf"] == "Garges-lès-Gonesse"
    assert sum(1 for source, site in sites.items() if source.startswith("cas-") and site) == 11
    assert sites["rapport-synthese.pdf"] == ""


def _fact_lines():
    for line in (DATA / "fact_terms.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            label, terms = line.split("\t")
            yield label, [term.strip() for term in terms.split("|")]


def test_every_fact_is_in_the_corpus(shipped):
    settings, _ = shipped
    text = fold(_all_text(settings)).replace("'", "’")
    missing = [(label, term) for label, terms in _fact_lines() for term in terms
               if fold(term).replace("'", "’") not in text]
    assert missing == []
    assert len(list(_fact_lines())) >= 130


def _questions():
    return [json.loads(line) for line in (DATA / "corpus-questions-dev.jsonl").read_text("utf-8").splitlines()]


def test_answerable_dev_questions_find_their_strings_in_the_top_5(shipped, embedder):
    settings, _ = shipped
    retriever = Retriever(settings.index_dir, embedder)
    misses = []
    for question in (q for q in _questions() if q["found"]):
        hits = retriever.search(question["question"], k=5).hits
        text = " ".join(f"{h.passage.title} {h.passage.section} {h.passage.text}" for h in hits)
        if not all(any(matches_expected(text, option) for option in group) for group in question["all"]):
            misses.append(question["question"])
    assert misses == []


def test_citations_show_real_pages_and_sections(shipped, embedder):
    settings, _ = shipped
    hit = Retriever(settings.index_dir, embedder).search("Quand le Comptoir citoyen a-t-il ouvert ?", k=1).hits[0]
    assert hit.passage.source == "cas-angers.pdf"
    assert hit.passage.section == "3. Prolongements : le Comptoir citoyen"
    assert hit.passage.page_start == 2
    report_hit = Retriever(settings.index_dir, embedder).search("préconisation services déconcentrés", k=1).hits[0]
    assert report_hit.passage.source == "rapport-synthese.pdf"
    assert report_hit.passage.section == "6.2 L’État local et la prévention" and report_hit.passage.page_start == 9
