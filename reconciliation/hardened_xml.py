"""XML statements parsed with a hardened lxml: no DTD, no entity expansion, no network.

A bank statement (camt, OFX 2) never needs a DTD, so a document that declares one, or an entity (the
carriers of entity bombs and external entities), is refused by a byte scan before it is parsed, and
UTF-16 input, which would hide such a declaration from that scan, is refused too. The parser itself
loads no DTD, expands no entity, opens no network connection and keeps libxml2's size limits
(huge_tree=False); the parsed tree is checked for an internal DTD once more.
"""
from __future__ import annotations

import re

from lxml import etree

from reconciliation.errors import StatementMalformed, StatementRefused

_declaration = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=True, remove_pis=True,
    )


def parse_hardened(content: bytes, kind: str) -> etree._Element:
    """The document's root element; `kind` ("camt", "OFX") names the format in the errors."""
    head = content[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in content[:200]:
        # UTF-16 would hide a DOCTYPE from the byte scan; banks send UTF-8.
        raise StatementMalformed(f"{kind} statements must be UTF-8 encoded XML")
    if _declaration.search(content):
        raise StatementRefused("the document declares a DOCTYPE or an entity; statements never need one")
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as exc:
        raise StatementMalformed(f"not well-formed XML: {exc.msg} (line {exc.lineno})", line=exc.lineno) from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise StatementRefused("the document declares a DOCTYPE; statements never need one")
    return root
