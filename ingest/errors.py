"""Errors of the ingestion floor."""

from index.errors import IndexFailure


class UnreadableDocument(IndexFailure):
    """A file of the corpus cannot be ingested; the message says why, in French, for the admin."""


class IngestionStopped(IndexFailure):
    """The process is stopping (SIGTERM): the run ends between two files or two batches, nothing is swapped in."""

    def __init__(self) -> None:
        super().__init__("Ingestion interrompue par l'arrêt du service : l'index précédent est conservé.")
