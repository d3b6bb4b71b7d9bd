"""S3 XML: escaping and building response documents, and parsing untrusted request documents safely."""
from __future__ import annotations

import re
from typing import Iterable
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ..server import iso_second
from .errors import MalformedXML

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_XML = 2 << 20          # a DeleteObjects of 1000 long keys fits; nothing legitimate is larger
_ESC = re.compile(r"[&<>\"\r\x00-\x08\x0b\x0c\x0e-\x1f]")
_ESC_MAP = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def esc(s: str) -> str:
    """Text content; control characters become character references (keys may hold them)."""
    return _ESC.sub(lambda m: _ESC_MAP.get(m.group(), f"&#{ord(m.group())};"), s)


def el(name: str, text: object) -> str:
    return f"<{name}>{esc(str(text))}</{name}>"


def doc(root: str, parts: Iterable[str], *, ns: bool = True) -> bytes:
    attr = f' xmlns="{XMLNS}"' if ns else ""
    return f"{HEAD}<{root}{attr}>{''.join(parts)}</{root}>".encode("utf-8", "surrogatepass")


def iso8601(ns: int) -> str:
    """S3's XML timestamp: UTC with milliseconds."""
    sec, rem = divmod(ns, 1_000_000_000)
    return f"{iso_second(sec)}.{str(rem // 1_000_000).zfill(3)}Z"


def parse(data: bytes) -> Element:
    """Parse a request document; DTDs, entities and external references are refused."""
    if len(data) > MAX_XML:
        raise MalformedXML("the XML document is too large")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as e:
        raise MalformedXML(f"the XML you provided was not well-formed: {e}") from None
    for e in root.iter():
        if isinstance(e.tag, str) and "}" in e.tag:
            e.tag = e.tag.split("}", 1)[1]
    return root


def text(e: Element | None, name: str, default: str = "") -> str:
    c = e.find(name) if e is not None else None
    return (c.text or "") if c is not None else default
