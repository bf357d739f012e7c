"""Errors of the ingestion floor."""

from index.errors import IndexFailure


class UnreadableDocument(IndexFailure):
    """A file of the corpus cannot be ingested; the message says why, in French, for the admin."""
