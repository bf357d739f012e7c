"""No file can exhaust the machine (issue 20, items 2-4): bounded titles and headings, a time and memory budget per
file read in a worker process, an upload checked under the locks, old indexes healed by the reader version."""

from __future__ import annotations

import asyncio
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.settings import BotSettings
from index.retriever import Retriever
from index.store import IndexSnapshot, IngestionLocked, current_version, ingestion_lock
from ingest.build import ingest
from ingest.errors import UnreadableDocument
from ingest.load import MAX_HEADING_CHARS, READER_VERSION, load_document
from tests.bot_world import ADMIN, copy_shipped, running_bot
from tests.support.hostile import bookmarked_pdf, shared_stream_pdf

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
BODY = "Le Comptoir citoyen a ouvert en octobre 2018 à Angers, après deux années de réflexion."


def _long(word: str, words: int) -> str:
    """A « heading » that is really a paragraph, ending with a word found nowhere else."""
    return "Un intertitre qui ne finit pas " + "et continue encore " * (words // 3) + word


def _docx(path: Path, heading: str, body: str) -> None:
    paragraph = '<w:p><w:pPr><w:pStyle w:val="{}"/></w:pPr><w:r><w:t>{}</w:t></w:r></w:p>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", f'<w:document xmlns:w="{_W_NS}"><w:body>'
                         + paragraph.format("Heading1", heading) + paragraph.format("Normal", body)
                         + "</w:body></w:document>")


def test_giant_titles_and_headings_are_bounded_once_and_their_text_kept(settings, embedder):
    corpus = settings.corpus_dir
    _docx(corpus / "titre.docx", _long("zorglubdocx", 900), BODY)
    (corpus / "page.html").write_text(
        f"<html><head><title>{'Titre interminable ' * 20_000}</title></head><body>"
        f"<h2>{_long('zorglubhtml', 900)}</h2><p>{BODY}</p></body></html>", encoding="utf-8")
    (corpus / "notes.md").write_text(f"## {_long('zorglubmd', 900)}\n\n{BODY}\n", encoding="utf-8")
    (corpus / "signets.pdf").write_bytes(bookmarked_pdf("Signet " * 150_000, BODY))

    report = ingest(settings, embedder)

    assert not report.failed and len(report.added) == 4
    snapshot = IndexSnapshot.open(settings.index_dir)
    try:
        assert all(len(document.title) <= MAX_HEADING_CHARS for document in snapshot.documents())
        passages = list(snapshot.passages(range(snapshot.manifest.passages)).values())
    finally:
        snapshot.close()
    assert all(len(passage.section) <= MAX_HEADING_CHARS for passage in passages)
    assert all(len(passage.title) <= MAX_HEADING_CHARS for passage in passages)
    for word in ("zorglubdocx", "zorglubhtml", "zorglubmd"):  # the overflow is body text, not lost
        assert any(word in passage.text for passage in passages), word
    retriever = Retriever(settings.index_dir, embedder)
    hit = retriever.search("zorglubmd", k=1).hits[0]
    assert "zorglubmd" in hit.passage.text and len(hit.passage.section) <= MAX_HEADING_CHARS


def test_a_megabyte_bookmark_is_not_matched_against_every_line(tmp_path):
    path = tmp_path / "signets.pdf"
    path.write_bytes(bookmarked_pdf("Signet " * 150_000, BODY))
    document = load_document(path, "signets.pdf", 10**9)
    assert len(document.title) <= MAX_HEADING_CHARS
    assert [paragraph.text for paragraph in document.paragraphs] == [BODY.replace("à", "a")] or \
        "Comptoir citoyen" in document.paragraphs[0].text


def test_a_file_over_its_time_budget_is_named_and_the_rest_is_indexed(settings, embedder):
    corpus = settings.corpus_dir
    (corpus / "lent.pdf").write_bytes(shared_stream_pdf())  # 36 KB; pypdf needs about 3 s a page
    (corpus / "bon.md").write_text(f"# Angers\n\n{BODY}\n", encoding="utf-8")
    report = ingest(replace(settings, read_seconds=2), embedder)
    failed = dict(report.failed)
    assert report.added == ("bon.md",)
    assert "lecture trop longue" in failed["lent.pdf"] and "READ_SECONDS" in failed["lent.pdf"]


def test_a_file_over_its_memory_budget_is_named_and_the_rest_is_indexed(settings, embedder):
    corpus = settings.corpus_dir
    (corpus / "balises.html").write_text("<html><body><p>" + "<b>a</b>" * 400_000 + "</p></body></html>",
                                         encoding="utf-8")  # 3 MB that the HTML parser makes into ~500 MB
    (corpus / "bon.md").write_text(f"# Angers\n\n{BODY}\n", encoding="utf-8")
    report = ingest(replace(settings, read_memory_mb=256, read_seconds=120), embedder)
    failed = dict(report.failed)
    assert report.added == ("bon.md",)
    assert "mémoire" in failed["balises.html"] and "READ_MEMORY_MB" in failed["balises.html"]


def test_an_index_built_by_older_readers_is_read_again_without_full(settings, embedder):
    corpus = settings.corpus_dir
    (corpus / "bon.md").write_text(f"# Angers\n\n{BODY}\n", encoding="utf-8")
    (corpus / "autre.txt").write_text("Creil\n\nLa ville a ouvert une maison des habitants.", encoding="utf-8")
    ingest(settings, embedder)
    manifest_file = current_version(settings.index_dir) / "manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    assert manifest["reader_version"] == READER_VERSION
    del manifest["reader_version"]  # as written before the reader version was recorded
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")

    healed = ingest(settings, embedder)
    assert healed.updated == ("autre.txt", "bon.md") and not healed.unchanged
    again = ingest(settings, embedder)
    assert again.unchanged == ("autre.txt", "bon.md") and not again.changed


def test_an_upload_is_checked_under_both_locks_and_the_budget(settings, embedder, tmp_path):
    (settings.corpus_dir / "bon.md").write_text(f"# Angers\n\n{BODY}\n", encoding="utf-8")
    ingest(settings, embedder)
    assistant = Assistant.build(BotSettings(index=replace(settings, read_seconds=2),
                                            state_db=tmp_path / "bot.sqlite"), embedder)
    try:
        with pytest.raises(UnreadableDocument, match="lecture trop longue"):
            assistant.add_document("lent.pdf", shared_stream_pdf())
        assert sorted(path.name for path in settings.corpus_dir.iterdir()) == ["bon.md"]
        with ingestion_lock(settings.index_dir), pytest.raises(IngestionLocked):
            assistant.add_document("creil.md", b"# Creil\n\nUne maison des habitants.\n")
        assert not (settings.corpus_dir / "creil.md").exists()  # nothing placed while another run held the index
        added = assistant.add_document("creil.md", b"# Creil\n\nUne maison des habitants.\n")
        assert added.report is not None and added.report.added == ("creil.md",)
    finally:
        assistant.state.close()


async def test_stopping_the_bot_ends_a_slow_upload_instead_of_waiting_for_it(tmp_path, shipped_index, embedder):
    """What run_polling does on SIGTERM (stop fetching, then stop the application, which waits for its tasks) ends
    while the reading worker is still on a file that would hold it for ten minutes."""
    index = replace(copy_shipped(tmp_path, shipped_index), read_seconds=600)
    async with running_bot(index, embedder, tmp_path) as world:
        version = world.assistant.retriever.snapshot.version_dir
        mark = world.server.mark()
        await world.server.upload(ADMIN, "lent.pdf", shared_stream_pdf())
        await world.server.wait_for(lambda c: c.method == "editMessageText" and "Lecture" in c.params["text"],
                                    since=mark, timeout=60)
        await world.application.updater.stop()
        await asyncio.wait_for(world.application.stop(), 120)  # far under the 600 s the reading would take
        assert not (index.corpus_dir / "lent.pdf").exists()
        assert world.assistant.retriever.snapshot.version_dir == version
        assert world.assistant.reader is not None and world.assistant.reader._pool is None  # the worker is gone


def test_a_stop_ends_a_reading_in_progress_every_time(tmp_path):
    """SIGTERM's stop while the worker is on a file that would hold it for minutes: the reading thread returns
    (IngestionStopped), however the pool settles the task it killed."""
    import threading

    from ingest.budget import BudgetedReader, ReadBudget
    from ingest.errors import IngestionStopped

    slow = tmp_path / "lent.pdf"
    slow.write_bytes(shared_stream_pdf())
    for _ in range(3):
        reader = BudgetedReader(ReadBudget(seconds=600))
        outcome: list[BaseException] = []

        def read(reader: BudgetedReader = reader, outcome: list[BaseException] = outcome) -> None:
            try:
                reader.read(slow, "lent.pdf", 10**9)
            except BaseException as error:
                outcome.append(error)

        thread = threading.Thread(target=read)
        thread.start()
        thread.join(1.5)
        reader.stop()
        thread.join(60)  # far under the 600 s the reading would take
        assert not thread.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], IngestionStopped)


def test_the_memory_budget_is_the_documents_whatever_the_command_imported(settings, tmp_path):
    """`vve`'s main module (numpy, faiss) is imported again by each reading worker: ~500 MB of address space that
    READ_MEMORY_MB must not count, or every file fails (a 60-byte one did at 256 MB). What a file over the budget
    gets is checked above, in this process."""
    import os
    import subprocess
    import sys

    vve = Path(sys.executable).with_name("vve")
    if not vve.exists():
        pytest.skip("the vve command is not installed beside this interpreter")
    (settings.corpus_dir / "bon.md").write_text(f"# Angers\n\n{BODY}\n", encoding="utf-8")
    env = {**os.environ, "CORPUS_DIR": str(settings.corpus_dir), "INDEX_DIR": str(settings.index_dir),
           "READ_MEMORY_MB": "256"}
    result = subprocess.run([str(vve), "ingest", "--quiet"], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert "1 ajouté(s)" in result.stdout and "0 en échec" in result.stdout


def test_a_heading_that_costs_many_word_pieces_is_not_repeated_in_each_passage(embedder):
    """300 characters are a bound in characters: U+FDFA makes ~1,200 word pieces of them. Repeated in every passage
    the heading would leave 16 word pieces for the text and multiply the passages."""
    from index.types import LoadedDocument, Paragraph
    from ingest.build import passage_token_budget
    from ingest.chunk import chunk_document

    paragraphs = [f"Le Comptoir citoyen a ouvert en octobre 2018 à Angers, étape {n} de la réciprocité." for n in
                  range(60)]
    budget = passage_token_budget(embedder, 256)

    def passages(heading: str) -> list:
        document = LoadedDocument("a.html", "Titre", "0" * 64, "html",
                                  tuple(Paragraph(text, heading, None) for text in paragraphs))
        return chunk_document(document, embedder.count_tokens, budget)

    short, costly = passages("Le Comptoir citoyen"), passages("\ufdfa" * 299)
    assert len(costly) <= len(short) + 1
    assert all(chunk.embed_text == chunk.text for chunk in costly)
    assert all(chunk.embed_text.startswith("Le Comptoir citoyen\n") for chunk in short)


def test_a_document_of_millions_of_tiny_paragraphs_is_refused_by_name(tmp_path):
    path = tmp_path / "miettes.html"
    path.write_text("<html><body>" + "<p>a</p>" * 250_000 + "</body></html>", encoding="utf-8")
    with pytest.raises(UnreadableDocument, match="trop morcelé"):
        load_document(path, "miettes.html", 10**9)
