"""decode_body(): bytes of a page -> text, choosing the charset the way browsers do. No I/O.

Order: a byte-order mark, then the HTTP header, then the document's own declaration
(`<meta charset>`, `<meta http-equiv>`, `<?xml encoding?>`), then strict UTF-8, then
charset-normalizer's detection, then windows-1252 (the web's default).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""",
    re.IGNORECASE,
)
# Labels that browsers read as a superset (the WHATWG Encoding standard): pages labelled
# latin-1 routinely contain windows-1252 quotes and dashes.
_SUPERSETS = {
    "ascii": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_DETECT_BYTES = 64 * 1024  # detection cost grows with input; the head of a page is enough


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str  # the Python codec that decoded it
    found_by: str  # "bom", "header", "declared", "utf-8", "detected" or "default"


def decode_body(body: bytes, header_charset: str | None = None) -> Decoded:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom) :].decode(name, errors="replace"), name, "bom")
    for found_by, label in (("header", header_charset), ("declared", _declared(body))):
        codec = codec_name(label)
        if codec is not None:
            return Decoded(body.decode(codec, errors="replace"), codec, found_by)
    try:
        return Decoded(body.decode("utf-8"), "utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:_DETECT_BYTES]).best()
    codec = codec_name(best.encoding if best is not None else None)
    if codec is not None:
        return Decoded(body.decode(codec, errors="replace"), codec, "detected")
    return Decoded(body.decode("cp1252", errors="replace"), "cp1252", "default")


def codec_name(label: str | None) -> str | None:
    """The Python codec for a charset label, widened to what browsers use; None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        # Python also knows bytes-to-bytes codecs (base64, hex, zlib) and idna, which cannot decode a
        # page with errors="replace": a page declaring one would fail to decode at all.
        b"a".decode(name, errors="replace")
    except (LookupError, UnicodeError):
        return None
    return _SUPERSETS.get(name, name)


def _declared(body: bytes) -> str | None:
    match = _DECLARED.search(body[:4096])
    if not match:
        return None
    raw = match.group(1) or match.group(2)
    return raw.decode("ascii", "ignore")
