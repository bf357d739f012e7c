"""Domain errors of the index floor. Each carries a French message for the person at the edge."""


class IndexFailure(Exception):
    """Base class: something about the index that a user can act on."""


class IndexNotFound(IndexFailure):
    """No index has been built yet in the configured folder."""

    def __init__(self, index_dir: object) -> None:
        super().__init__(
            f"Aucun index dans « {index_dir} » : lancez d'abord « vve ingest » pour indexer le corpus."
        )


class ModelMismatch(IndexFailure):
    """The index was built with another embedding model (or another format)."""

    def __init__(self, index_model: str, configured_model: str) -> None:
        super().__init__(
            f"L'index a été construit avec le modèle « {index_model} », mais le modèle configuré est "
            f"« {configured_model} » : relancez « vve ingest --full » pour reconstruire l'index."
        )


class IndexFormatError(IndexFailure):
    """The index on disk is of an unknown format version or is damaged."""


class OtherFormatVersion(IndexFormatError):
    """The index was written by another version of the project's format: readable by none of its readers, but
    `vve ingest` rebuilds it from the corpus without being told."""


class ModelUnavailable(IndexFailure):
    """The configured embedding model cannot be loaded (offline, wrong name or path)."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(
            f"Impossible de charger le modèle d'embedding « {model} » : {reason}. "
            "Hors ligne, seuls les modèles présents sur le disque (chemin local ou cache) sont utilisables ; "
            "laissez EMBEDDING_MODEL vide pour le modèle fourni avec le projet."
        )


class ConfigError(IndexFailure):
    """A configuration key has a bad value; the message names the key."""


class DiskFull(IndexFailure):
    """The disk filled up while a new version was written; the previous version is still served."""

    def __init__(self, where: object) -> None:
        super().__init__(f"Disque plein pendant l'écriture de l'index dans « {where} » : la construction est "
                         "abandonnée et l'index précédent est conservé. Libérez de la place puis relancez "
                         "« vve ingest ».")
