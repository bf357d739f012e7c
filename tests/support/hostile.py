"""Small files built to exhaust a reader: PDFs written by hand, object by object (fpdf2 would not write these)."""

from __future__ import annotations

import zlib


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF of the given objects (numbered from 1), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def _stream(data: bytes) -> bytes:
    packed = zlib.compress(data, 9)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"


def shared_stream_pdf(pages: int = 200, operators: int = 100_000) -> bytes:
    """`pages` pages that all draw one shared content stream of `operators` text operators: a few dozen KB that
    pypdf reads for minutes (it extracts the whole stream again for every page)."""
    content = b"BT /F1 12 Tf 72 720 Td " + b"(mot ) Tj 0 -1 Td " * operators + b"ET"
    kids = b" ".join(b"%d 0 R" % (5 + index) for index in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        _stream(content),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                b"/Contents 4 0 R >>" for _ in range(pages)]
    return raw_pdf(objects)


def bookmarked_pdf(title: str, body: str) -> bytes:
    """One page of text with one bookmark whose title is `title` (any length)."""
    text = body.encode("latin-1", "replace").replace(b"(", b"").replace(b")", b"")
    escaped_title = title.encode("utf-16-be").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        _stream(b"BT /F1 11 Tf 72 720 Td (" + text + b") Tj ET"),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Type /Outlines /First 7 0 R /Last 7 0 R /Count 1 >>",
        b"<< /Title (\xfe\xff" + escaped_title + b") /Parent 6 0 R /Dest [5 0 R /XYZ 0 792 0] >>",
    ]
    return raw_pdf(objects)
