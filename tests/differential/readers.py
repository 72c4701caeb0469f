"""Other servers' readings of request targets, for the differential test.

Reads a corpus (one target per line, hex-encoded bytes) on stdin and writes one JSON object
a line with each reader's path (hex-encoded UTF-8 bytes), or null where the reader refuses:

  python   urllib.parse.unquote, then posixpath.normpath (a WSGI app serving files)
  nfkc     the same after NFKC and Unicode case folding (frameworks that normalise names)
  iis      a model of IIS on Windows: %uXXXX and %XX decoded, best-fit mapping of full-width
           forms and of the yen and won signs (backslash in Japanese and Korean code pages),
           backslash as separator, trailing dots and spaces dropped, ::$DATA streams, and
           case-insensitive names
  servlet  a model of a Java servlet container: ;parameters cut from each raw segment, then
           decoded and dot segments resolved
"""

import json
import posixpath
import sys
import unicodedata
import urllib.parse


def path_of(target: bytes) -> bytes:
    return target.split(b"?", 1)[0].split(b"#", 1)[0]


def python(target: bytes):
    raw = path_of(target)
    if not raw.startswith(b"/"):
        return None
    try:
        decoded = urllib.parse.unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return posixpath.normpath(decoded)


def nfkc(target: bytes):
    p = python(target)
    if p is None:
        return None
    raw = path_of(target)
    decoded = urllib.parse.unquote_to_bytes(raw).decode("utf-8")
    return posixpath.normpath(unicodedata.normalize("NFKC", decoded).casefold())


BEST_FIT = {"\u00a5": "\\", "\u20a9": "\\", "\u2215": "/", "\u2216": "\\", "\uFE68": "\\",
            "\u2044": "/", "\u02c6": "^", "\u02dc": "~", "\u2024": ".", "\u0131": "i"}


def best_fit(c: str) -> str:
    o = ord(c)
    if 0xFF01 <= o <= 0xFF5E:
        return chr(o - 0xFEE0)
    if c in BEST_FIT:
        return BEST_FIT[c]
    # Accented Latin letters lose the accent.
    base = unicodedata.normalize("NFKD", c)
    stripped = "".join(x for x in base if not unicodedata.combining(x))
    if len(stripped) == 1 and stripped.isascii():
        return stripped
    return c


def iis(target: bytes):
    raw = path_of(target).decode("latin-1")
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "%" and raw[i + 1:i + 2] in ("u", "U"):
            h = raw[i + 2:i + 6]
            try:
                out += chr(int(h, 16)).encode("utf-8")
            except ValueError:
                return None
            i += 6
        elif c == "%":
            h = raw[i + 1:i + 3]
            try:
                out.append(int(h, 16))
            except ValueError:
                return None
            i += 3
        else:
            out += c.encode("latin-1")
            i += 1
    try:
        s = out.decode("utf-8")
    except UnicodeDecodeError:
        return None
    s = "".join(best_fit(c) for c in s).replace("\\", "/")
    segs = []
    for seg in s.split("/"):
        seg = seg.split("::$", 1)[0]
        if seg not in (".", ".."):
            seg = seg.rstrip(". ")
        if seg in ("", "."):
            continue
        if seg == "..":
            if segs:
                segs.pop()
            continue
        segs.append(seg)
    return ("/" + "/".join(segs)).lower()


def servlet(target: bytes):
    raw = path_of(target)
    if not raw.startswith(b"/"):
        return None
    segs = [s.split(b";", 1)[0] for s in raw.split(b"/")]
    try:
        decoded = [urllib.parse.unquote_to_bytes(s).decode("utf-8") for s in segs]
    except UnicodeDecodeError:
        return None
    out = []
    for seg in decoded[1:]:
        if seg in ("", "."):
            continue
        if seg == "..":
            if not out:
                return None
            out.pop()
            continue
        out.append(seg)
    return "/" + "/".join(out)


def enc(p):
    return None if p is None else p.encode("utf-8", "surrogateescape").hex()


for line in sys.stdin:
    target = bytes.fromhex(line.strip())
    print(json.dumps({
        "python": enc(python(target)),
        "nfkc": enc(nfkc(target)),
        "iis": enc(iis(target)),
        "servlet": enc(servlet(target)),
    }))
