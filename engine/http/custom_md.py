"""`Ais-Custom-Md`, the `/v1` header that carries an object's custom metadata (`k=v,k2=v2`): written by
the REST face, read by it on PUT, and by the REST client (the CLI, remote-mode mounts)."""
from __future__ import annotations

import re
from urllib.parse import unquote

from ..errors import BadRequest


# `Ais-Custom-Md: k=v,k2=v2` carries any name and value: the characters that would break that shape
# (`%`, `,`, `=`, control characters, and spaces at either end, which header parsing strips) are
# percent-encoded; everything else, UTF-8 included, goes as it is, so ordinary values read as AIStore's.
_MD_SPECIAL = re.compile(r"[%,=\x00-\x1f\x7f]|^\s+|\s+$")


def _md_quote(text: str) -> str:
    return _MD_SPECIAL.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def format_custom_md(custom: dict[str, str]) -> str:
    """Custom metadata as the `Ais-Custom-Md` header value."""
    return ",".join(f"{_md_quote(k)}={_md_quote(v)}" for k, v in custom.items())


def parse_custom_md(text: str) -> dict[str, str]:
    """The `Ais-Custom-Md` header value (or the CLI's `--meta`) as metadata."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        try:
            name, value = unquote(k.strip(), errors="strict"), unquote(v.strip(), errors="strict")
        except UnicodeDecodeError:
            raise BadRequest(f"custom metadata: {part!r} decodes to bytes that are not UTF-8") from None
        if not sep or not name:
            raise BadRequest(f"custom metadata: expected name=value pairs, got {part!r}")
        out[name] = value
    return out
