import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.config import IndexSettings
from index.embedder import SentenceTransformerEmbedder, make_embedder
from index.errors import ModelMismatch
from index.retriever import Retriever
from index.store import IndexSnapshot, IngestionLocked, current_version, ingestion_lock
from ingest.build import ingest

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
    (settings.corpus_dir / "latin.txt").write_bytes("élus".encode("latin-1"))
    report = ingest(settings, embedder)
    assert report.added == ("bon.txt",)
    assert dict(report.failed).keys() == {"vide.pdf", "casse.pdf", "latin.txt"}
    assert all(reason for _, reason in report.failed)
    assert "3 en échec" in report.summary()
    assert _sources(settings) == {"bon.txt"}


def test_a_changed_document_that_no_longer_reads_keeps_its_previous_passages(settings, embedder):
    _write(settings.corpus_dir, "a.txt", "Titre\n\nLes focus groups de Villeurbanne.")
    ingest(settings, embedder)
    (settings.corpus_dir / "a.txt").write_bytes("cass\xe9".encode("latin-1"))
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
    for n in range(120):  # enough passages for the embedding to take a few seconds
        _write(settings.corpus_dir, f"lot/{n}.txt", f"Doc {n}\n\n" + f"Phrase {n} sur la cohésion sociale. " * 40)
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
    assert len(report.added) == 120 and not list(settings.index_dir.glob("build-*"))


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
