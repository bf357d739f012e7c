import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.config import IndexSettings
from index.embedder import SentenceTransformerEmbedder, make_embedder
from index.errors import IndexFormatError, ModelMismatch
from index.retriever import Retriever
from index.store import IndexSnapshot, IngestionLocked, current_version, ingestion_lock
from ingest.budget import BudgetedReader
from ingest.build import ingest, read_budget

ROOT = Path(__file__).resolve().parent.parent


def _write(corpus: Path, name: str, text: str) -> Path:
    path = corpus / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _sources(settings) -> set[str]:
    snapshot = IndexSnapshot.open(settings.index_dir)
    try:
        return {document.source for document in snapshot.documents()}
    finally:
        snapshot.close()


def test_incremental_add_update_remove(settings, embedder):
    _write(settings.corpus_dir, "a.md", "# Angers\n\nLe Comptoir citoyen a ouvert en octobre 2018.\n")
    _write(settings.corpus_dir, "b.txt", "Bordeaux\n\nLa Pactotec observe les quartiers.")
    first = ingest(settings, embedder)
    assert (first.added, first.failed) == (("a.md", "b.txt"), ())
    assert "2 ajouté(s)" in first.summary()

    _write(settings.corpus_dir, "b.txt", "Bordeaux\n\nLa Pactotec commande des études ciblées.")
    _write(settings.corpus_dir, "sous/c.txt", "Creil\n\nPetite enfance et parentalité.")
    (settings.corpus_dir / "a.md").unlink()
    second = ingest(settings, embedder)
    assert (second.added, second.updated, second.removed, second.unchanged) == (("sous/c.txt",), ("b.txt",),
                                                                             ("a.md",), ())
    assert _sources(settings) == {"b.txt", "sous/c.txt"}
    retriever = Retriever(settings.index_dir, embedder)
    texts = [hit.passage.text for hit in retriever.search("Pactotec études", k=3).hits]
    assert any("études ciblées" in text for text in texts)
    assert not any("observe les quartiers" in text for text in texts)
    assert not any("Comptoir" in hit.passage.text for hit in retriever.search("Comptoir citoyen", k=5).hits)


def test_unchanged_documents_reuse_their_vectors(settings, embedder):
    _write(settings.corpus_dir, "a.txt", "Titre\n\nLe Havre et les ateliers citoyens.")
    ingest(settings, embedder)
    before = IndexSnapshot.open(settings.index_dir)
    _write(settings.corpus_dir, "b.txt", "Autre\n\nStrasbourg et l’espace public.")
    ingest(settings, embedder)
    after = IndexSnapshot.open(settings.index_dir)
    assert (before.reconstruct(before.document_rows("a.txt")) == after.reconstruct(after.document_rows("a.txt"))).all()
    # the sentences too: their spans and vectors are copied, not computed again
    assert before.chunks_and_terms("a.txt") == after.chunks_and_terms("a.txt")
    assert (before.document_sentence_vectors("a.txt") == after.document_sentence_vectors("a.txt")).all()
    assert after.manifest.sentences == 2 and len(after.document_sentence_vectors("b.txt")) == 1
    before.close()
    after.close()


def test_noop_run_does_not_load_the_model(settings, embedder):
    _write(settings.corpus_dir, "a.txt", "Titre\n\nArras a recruté un coordinateur en 2017.")
    ingest(settings, embedder)
    version = current_version(settings.index_dir)
    fresh = make_embedder(IndexSettings())
    report = ingest(settings, fresh)
    assert not fresh.loaded and not report.model_loaded
    assert report.unchanged == ("a.txt",) and not report.changed
    assert current_version(settings.index_dir) == version  # nothing rewritten


def test_bad_files_next_to_good_ones(settings, embedder):
    _write(settings.corpus_dir, "bon.txt", "Bon\n\nLa réciprocité devenue engagement solidaire.")
    (settings.corpus_dir / "vide.pdf").write_bytes(b"")
    (settings.corpus_dir / "casse.pdf").write_bytes(b"%PDF-1.4 n'importe quoi")
    (settings.corpus_dir / "binaire.txt").write_bytes(b"\x00\x01\x02" * 50)
    (settings.corpus_dir / "latin.txt").write_bytes("Les élus".encode("latin-1"))  # read since issue 22
    report = ingest(settings, embedder)
    assert report.added == ("bon.txt", "latin.txt")
    assert dict(report.failed).keys() == {"vide.pdf", "casse.pdf", "binaire.txt"}
    assert all(reason for _, reason in report.failed)
    assert "3 en échec" in report.summary()
    assert _sources(settings) == {"bon.txt", "latin.txt"}


def test_a_changed_document_that_no_longer_reads_keeps_its_previous_passages(settings, embedder):
    _write(settings.corpus_dir, "a.txt", "Titre\n\nLes focus groups de Villeurbanne.")
    ingest(settings, embedder)
    (settings.corpus_dir / "a.txt").write_bytes(b"\x00\x01 binaire")
    report = ingest(settings, embedder)
    assert report.failed and report.failed[0][0] == "a.txt"
    hits = Retriever(settings.index_dir, embedder).search("focus groups Villeurbanne", k=1).hits
    assert "focus groups" in hits[0].passage.text


def test_concurrent_ingestion_is_refused(settings, embedder):
    _write(settings.corpus_dir, "a.txt", "Titre\n\nTexte.")
    with ingestion_lock(settings.index_dir), pytest.raises(IngestionLocked, match="déjà en cours"):
        ingest(settings, embedder)


def test_opening_with_another_model_is_a_clear_error(settings, embedder):
    _write(settings.corpus_dir, "a.txt", "Titre\n\nTexte.")
    ingest(settings, embedder)
    with pytest.raises(ModelMismatch, match="--full"):
        IndexSnapshot.open(settings.index_dir, expected_model="intfloat/multilingual-e5-small")
    other = SentenceTransformerEmbedder("intfloat/multilingual-e5-small")
    with pytest.raises(ModelMismatch):
        ingest(settings, other)
    assert not other.loaded


def test_sites_come_from_the_corpus(settings, embedder):
    (settings.corpus_dir / "sites.toml").write_text('[[site]]\nname = "Le Havre"\naliases = ["Havrais"]\n',
                                                    encoding="utf-8")
    _write(settings.corpus_dir, "cas-le-havre.md", "# Étude de cas — Le Havre\n\nLes ateliers citoyens.\n")
    _write(settings.corpus_dir, "rapport.md", "# Rapport\n\nLes ateliers citoyens du rapport.\n")
    ingest(settings, embedder)
    snapshot = IndexSnapshot.open(settings.index_dir)
    assert {d.source: d.site for d in snapshot.documents()} == {"cas-le-havre.md": "Le Havre", "rapport.md": ""}
    assert [site.name for site in snapshot.sites()] == ["Le Havre"]
    snapshot.close()
    result = Retriever(settings.index_dir, embedder).search("ateliers citoyens", k=5, site="Le Havre")
    assert [hit.passage.source for hit in result.hits] == ["cas-le-havre.md"]


def test_kill_during_ingestion_leaves_the_previous_index_usable(settings, embedder, tmp_path):
    _write(settings.corpus_dir, "a.txt", "Premier\n\nLe comité d’experts de Bordeaux.")
    ingest(settings, embedder)
    previous = current_version(settings.index_dir)
    for n in range(60):  # enough passages for the embedding to take a few seconds
        _write(settings.corpus_dir, f"lot/{n}.txt",
               f"Doc {n}\n\n" + f"Phrase {n} sur la cohésion sociale, " * 40 + "fin.")
    env = {**os.environ, "CORPUS_DIR": str(settings.corpus_dir), "INDEX_DIR": str(settings.index_dir)}
    process = subprocess.Popen([sys.executable, "-m", "ingest", "--quiet"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(settings.index_dir.glob("build-*")) and time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.05)
    time.sleep(3)  # into the model loading or the embedding
    assert process.poll() is None, "ingestion ended before it could be interrupted"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert current_version(settings.index_dir) == previous
    hits = Retriever(settings.index_dir, embedder).search("comité d’experts Bordeaux", k=1).hits
    assert "Bordeaux" in hits[0].passage.text
    report = ingest(settings, embedder)  # the next run cleans up and completes
    assert len(report.added) == 60 and not list(settings.index_dir.glob("build-*"))


def test_a_model_that_cannot_be_loaded_offline_is_a_clear_error(monkeypatch):
    from index.errors import ModelUnavailable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = SentenceTransformerEmbedder("intfloat/modele-qui-n-existe-pas")
    with pytest.raises(ModelUnavailable, match="Impossible de charger le modèle"):
        missing.embed_query("test")


def test_e5_models_get_their_prefixes():
    e5 = SentenceTransformerEmbedder("intfloat/multilingual-e5-small")
    assert (e5.query_prefix, e5.passage_prefix) == ("query: ", "passage: ")
    custom = SentenceTransformerEmbedder("intfloat/multilingual-e5-small", query_prefix="", passage_prefix="")
    assert (custom.query_prefix, custom.passage_prefix) == ("", "")


def test_concurrent_queries_are_batched_and_each_gets_its_own_vector(embedder):
    import concurrent.futures

    import numpy as np

    queries = [f"question numéro {n} sur la cohésion sociale" for n in range(24)]
    alone = [embedder.embed_query(query) for query in queries]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        together = list(pool.map(embedder.embed_query, queries))
    for single, batched in zip(alone, together, strict=True):
        assert np.allclose(single, batched, atol=1e-5)


# --- ingestion never stops on one file ----------------------------------------------------------------------

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_with(path: Path, document_xml: str) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", document_xml)


def test_a_folder_of_hostile_files_is_ingested_in_one_run(settings, embedder, tmp_path, monkeypatch):
    import ingest.build as build

    corpus = settings.corpus_dir
    _write(corpus, "bon.md", "# Angers\n\nLe Comptoir citoyen a ouvert en octobre 2018.\n")
    _write(corpus, "mot.txt", "Mot\n\n" + "z" * 30_000 + " et la suite du texte.")
    _docx_with(corpus / "casse.docx", f'<w:document xmlns:w="{_W_NS}"><w:body><w:p></w:body>')
    _docx_with(corpus / "rires.docx", '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
               f'<w:document xmlns:w="{_W_NS}"><w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>')
    _docx_with(corpus / "bombe.docx", f'<w:document xmlns:w="{_W_NS}"><w:body>' + " " * (80 * 1_048_576)
               + "</w:body></w:document>")
    (corpus / "enorme.html").write_text("<html><body><p>" + "mot " * 2_600_000 + "</p></body></html>",
                                        encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\n\nmot de passe du serveur", encoding="utf-8")
    (corpus / "lien.txt").symlink_to(outside)
    (corpus / "casse-lien.txt").symlink_to(tmp_path / "absent.txt")
    (corpus / "dossier-dehors").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(corpus / "tube")
    (corpus / "a\nÉchec : faux.pdf — forgé.txt").write_bytes(b"")
    with open(os.fsencode(corpus) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"Titre\n\nTexte.")
    _write(corpus, "disparu.txt", "Disparu\n\nCe fichier sera effacé pendant la lecture.")
    _write(corpus, "interdit.txt", "Interdit\n\nCe fichier ne se lit pas.")

    real_hash = build.file_sha256

    class ReaderWhileDeleting(BudgetedReader):
        def read(self, path, source, max_bytes):
            if source == "disparu.txt":
                path.unlink()
            return super().read(path, source, max_bytes)

    def hash_refused(path):
        if path.name == "interdit.txt":  # the tests may run as root, for whom chmod 000 changes nothing
            raise PermissionError(13, "Permission denied")
        return real_hash(path)

    monkeypatch.setattr(build, "file_sha256", hash_refused)
    reader = ReaderWhileDeleting(read_budget(settings))
    try:
        report = ingest(settings, embedder, reader=reader)
    finally:
        reader.close()

    failed = dict(report.failed)
    assert report.added == ("bon.md", "mot.txt")
    assert "XML invalide" in failed["casse.docx"]
    assert "entités" in failed["rires.docx"]
    assert "bombe de décompression" in failed["bombe.docx"]
    assert "texte trop long" in failed["enorme.html"]
    assert "hors du dossier du corpus" in failed["lien.txt"]
    assert "cassé" in failed["casse-lien.txt"]
    assert "hors du corpus" in failed["dossier-dehors"]
    assert "FIFO" in failed["tube"]
    assert "UTF-8" in failed["caf\\xe9.txt"]
    assert "disparu" in failed["disparu.txt"]
    assert "lecture refusée" in failed["interdit.txt"]
    assert "fichier vide" in failed["a\\nÉchec : faux.pdf — forgé.txt"]  # the newline cannot forge a report line
    assert not any("\n" in name for name in failed)
    assert len(failed) == 12
    retriever = Retriever(settings.index_dir, embedder)
    assert "octobre 2018" in retriever.search("Comptoir citoyen Angers", k=1).hits[0].passage.text
    assert all("mot de passe" not in hit.passage.text for hit in retriever.search("mot de passe serveur").hits)
    assert max(len(hit.passage.text) for hit in retriever.search("zzzz", k=20).hits) < 5_000


@pytest.mark.parametrize("error, free, message", [
    (sqlite3.OperationalError("database or disk is full"), 10**9, "Disque plein"),
    (RuntimeError("Error in void faiss::write_index: 'ret == (size * 4)' failed"), 0, "Disque plein"),
    (RuntimeError("Error in void faiss::write_index: 'ret == (size * 4)' failed"), 10**9, "Écriture de l'index "
     "impossible"),
    (OSError("92160 requested and 69568 written"), 0, "Disque plein"),
])
def test_every_way_a_full_disk_shows_is_one_french_line(settings, embedder, monkeypatch, error, free, message):
    """Issue 23: SQLite, FAISS and numpy each say « disk full » their own way (4 of 6 fill levels gave a traceback)."""
    import shutil

    import ingest.build as build
    from index.errors import IndexFailure

    _write(settings.corpus_dir, "a.txt", "Titre\n\nLe Havre et les ateliers citoyens.")
    ingest(settings, embedder)
    version = current_version(settings.index_dir)
    _write(settings.corpus_dir, "b.txt", "Autre\n\nStrasbourg et l’espace public.")

    def failing_write(build_dir, *args, **kwargs):
        raise error

    usage = shutil.disk_usage(settings.index_dir)
    monkeypatch.setattr(build, "write_version", failing_write)
    monkeypatch.setattr(build.shutil, "disk_usage", lambda path: usage._replace(free=free))
    with pytest.raises(IndexFailure, match=message):
        ingest(settings, embedder)
    assert current_version(settings.index_dir) == version and not list(settings.index_dir.glob("build-*"))


@pytest.mark.slow  # five ingestions of the sample corpus, about a minute: `pytest -m slow`
def test_a_real_full_disk_at_every_fill_level_keeps_the_index_and_says_so(tmp_path):
    """Issue 23, on a real small file system (tmpfs; skipped where this machine may not mount one): at each level of
    free space, `vve ingest --full` ends with one French line and exit code 3 or 0, the served index unharmed."""
    import subprocess
    import sys

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1600k", "tmpfs", str(disk)],
                      capture_output=True).returncode:
        pytest.skip("no permission to mount a small file system here")
    try:
        env = {**os.environ, "INDEX_DIR": str(disk / "index"), "CORPUS_DIR": str(ROOT / "corpus")}
        command = [sys.executable, "-m", "bot", "ingest"]
        assert subprocess.run([*command, "--quiet"], env=env, capture_output=True).returncode == 0
        kept = current_version(disk / "index")
        for free_kb in (700, 400, 150, 20):
            filler = disk / "filler"
            filler.unlink(missing_ok=True)
            left = shutil.disk_usage(disk).free - free_kb * 1024
            if left > 0:
                filler.write_bytes(b"\0" * left)
            done = subprocess.run([*command, "--full"], env=env, capture_output=True, text=True)
            assert done.returncode in (0, 3), done.stderr
            assert "Traceback" not in done.stderr + done.stdout
            if done.returncode == 3:
                assert "Disque plein" in done.stderr and current_version(disk / "index") == kept
            kept = current_version(disk / "index")
            assert kept is not None and (kept / "manifest.json").exists()
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_disk_full_during_a_build_keeps_the_previous_index(settings, embedder, monkeypatch):
    import errno

    import ingest.build as build
    from index.errors import DiskFull

    _write(settings.corpus_dir, "a.txt", "Titre\n\nLe Havre et les ateliers citoyens.")
    ingest(settings, embedder)
    version = current_version(settings.index_dir)
    _write(settings.corpus_dir, "b.txt", "Autre\n\nStrasbourg et l’espace public.")

    def full_disk(build_dir, *args, **kwargs):
        (build_dir / "passages.sqlite").write_bytes(b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build, "write_version", full_disk)
    with pytest.raises(DiskFull, match=r"Disque plein.*index précédent est conservé"):
        ingest(settings, embedder)
    import ingest.__main__ as ingest_command

    monkeypatch.setenv("CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("INDEX_DIR", str(settings.index_dir))
    assert ingest_command.main(["--quiet"]) == 3
    assert not list(settings.index_dir.glob("build-*"))
    assert current_version(settings.index_dir) == version
    assert _sources(settings) == {"a.txt"}


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda version: (version / "vectors.faiss").write_bytes((version / "vectors.faiss").read_bytes()[:100]),
     "vectors.faiss"),
    (lambda version: (version / "passages.sqlite").write_bytes(b"pas une base SQLite " * 100), "passages.sqlite"),
])
def test_a_damaged_index_is_named_in_french_and_rebuilt_by_a_full_ingestion(settings, embedder, damage, reason,
                                                                            monkeypatch, capsys):
    from bot import cli

    _write(settings.corpus_dir, "a.txt", "Titre\n\nLe Havre et les ateliers citoyens.")
    ingest(settings, embedder)
    version = current_version(settings.index_dir)
    assert version is not None
    damage(version)
    with pytest.raises(IndexFormatError, match=f"Index endommagé.*{reason}.*vve ingest --full"):
        IndexSnapshot.open(settings.index_dir)
    monkeypatch.setenv("CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("INDEX_DIR", str(settings.index_dir))
    assert cli.main(["search", "ateliers citoyens"]) == 2
    assert "Index endommagé" in capsys.readouterr().err
    with pytest.raises(IndexFormatError):
        ingest(settings, embedder)  # an incremental run cannot reuse damaged files: it says so
    report = ingest(settings, embedder, full=True)
    assert report.added == ("a.txt",)
    assert "ateliers" in Retriever(settings.index_dir, embedder).search("ateliers citoyens", k=1).hits[0].passage.text


def test_an_index_of_another_format_version_is_rebuilt_by_a_plain_run(settings, embedder):
    import json

    from index.store import FORMAT_VERSION

    _write(settings.corpus_dir, "a.txt", "Titre\n\nLe Havre et les ateliers citoyens.")
    ingest(settings, embedder)
    version = current_version(settings.index_dir)
    assert version is not None
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = FORMAT_VERSION - 1  # as written by an older version of the project
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexFormatError, match="vve ingest --full"):
        IndexSnapshot.open(settings.index_dir)  # readers say so
    report = ingest(settings, embedder)  # `make run`'s plain `vve ingest` rebuilds instead of stopping
    assert report.added == ("a.txt",)
    rebuilt = IndexSnapshot.open(settings.index_dir)
    assert rebuilt.manifest.format_version == FORMAT_VERSION
    rebuilt.close()


def test_byte_identical_documents_give_one_hit_naming_both(settings, embedder):
    """Issue 23: the same file under two names (a copy sent twice, a renamed download) is one hit, and its citation
    names both documents, in the text and in the JSON."""
    from bot.assistant import Assistant
    from bot.render import answer_json, answer_plain
    from bot.settings import BotSettings
    from index.render_text import citation, hit_json

    text = ("# Charte des jardins partagés\n\nLe jardin Zéphyrin accueille quarante familles du quartier depuis "
            "2016. Les parcelles sont attribuées par le conseil citoyen.\n")
    _write(settings.corpus_dir, "charte.md", text)
    _write(settings.corpus_dir, "copie de la charte.md", text)
    _write(settings.corpus_dir, "autre.md", "# Autre\n\nLe marché du samedi réunit les habitants.\n")
    ingest(settings, embedder)
    question = "Combien de familles le jardin Zéphyrin accueille-t-il ?"
    hits = Retriever(settings.index_dir, embedder).search(question).hits
    texts = [hit.passage.text for hit in hits]
    assert len(texts) == len(set(texts))
    first = hits[0].passage
    assert "Zéphyrin" in first.text and len(first.also_in) == 1
    assert "aussi dans" in citation(first) and hit_json(hits[0])["also_in"] == list(first.also_in)
    assistant = Assistant.build(BotSettings(index=settings, state_db=settings.index_dir.parent / "s.sqlite"), embedder)
    try:
        answer, _ = assistant.ask("Combien de familles le jardin Zéphyrin accueille-t-il ?", record=False)
        assert answer.found and "quarante familles" in answer_plain(answer)
        assert len(answer.citations) == 1 and answer_json(answer)["citations"][0]["also_in"]
    finally:
        assistant.state.close()


def test_a_disclaimer_repeated_across_documents_is_never_quoted_wherever_it_stands(settings, embedder):
    """Issue 21, item 6: a notice is known by what it says and by coming back in several documents, not by standing
    before the first heading; it stays searchable. A fact repeated in each document is still quoted."""
    from bot.assistant import Assistant
    from bot.render import answer_plain
    from bot.settings import BotSettings

    notice = "Document reconstitué par l’équipe du projet à partir de sources publiques, version de travail."
    fact = "La recherche-action Zéphyrine a été conduite de 2015 à 2017 par l’Odas avec onze sites."
    for city, subject in (("Angers", "le jardin partagé"), ("Arras", "la maison des projets"),
                          ("Creil", "le café des parents")):
        _write(settings.corpus_dir, f"{city}.md", f"# Étude de cas — {city}\n\n## Le projet\n\n{notice} {fact} "
                                                  f"À {city}, {subject} réunit les habitants chaque semaine.\n")
    ingest(settings, embedder)
    result = Retriever(settings.index_dir, embedder).search("document reconstitué équipe du projet sources publiques")
    assert any("reconstitué" in hit.passage.text for hit in result.hits)  # searchable
    assert all(span.notice for hit in result.hits for span in hit.sentences
               if "reconstitué" in hit.passage.text[span.start:span.end])
    assistant = Assistant.build(BotSettings(index=settings, state_db=settings.index_dir.parent / "s.sqlite"), embedder)
    try:
        answer, _ = assistant.ask("Par qui le document a-t-il été reconstitué ?", record=False)
        assert "sources publiques" not in answer_plain(answer)
        answer, _ = assistant.ask("Quand la recherche-action Zéphyrine a-t-elle été conduite ?", record=False)
        assert answer.found and "de 2015 à 2017" in answer_plain(answer)
    finally:
        assistant.state.close()
