"""The bottom floor: passages, their embeddings, their lexical index, and hybrid search over them."""
