import unicodedata

from index.normalize import normalize_text


def test_decomposed_text_is_composed():
    decomposed = unicodedata.normalize("NFD", "Médiation à Creil, cœur, Ça")
    assert decomposed != "Médiation à Creil, cœur, Ça"
    assert normalize_text(decomposed) == "Médiation à Creil, cœur, Ça"


def test_zero_width_characters_and_soft_hyphens_are_removed():
    text = "co\u00adhé\u200bsion\u200c so\u200dciale\u2060 \ufeffdes quartiers"
    assert normalize_text(text) == "cohésion sociale des quartiers"


def test_no_break_spaces_and_case_are_kept():
    assert normalize_text("190\u00a0000 et 45\u202f000 Habitants") == "190\u00a0000 et 45\u202f000 Habitants"
