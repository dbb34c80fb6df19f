"""ISO 20022 camt.053 (and camt.052/054, which share the entry shape) parsed with a hardened lxml.

The document is parsed by reconciliation.hardened_xml (a DOCTYPE or entity refused, no DTD, no
entity expansion, no network). Amounts are read from the element text as Decimal.
"""
from __future__ import annotations

import datetime as dt
import threading
from xml.sax.saxutils import escape

from lxml import etree

from reconciliation.errors import StatementMalformed
from reconciliation.hardened_xml import parse_hardened
from reconciliation.model import Statement, StatementLine, clip, combined, minor_from_text, text_length_max

_containers = ("Stmt", "Rpt", "Ntfctn")  # camt.053, camt.052, camt.054


def parse_camt(content: bytes) -> Statement:
    """Every statement (report, notification) of a camt document, combined into one
    (reconciliation.model.combined): a document may hold several days, each its own Stmt."""
    root = parse_hardened(content, "camt")
    containers = next((found for tag in _containers if (found := root.findall(f".//{{*}}{tag}"))), [])
    if not containers:
        raise StatementMalformed("no Stmt, Rpt or Ntfctn element: not a camt.053/052/054 document")
    entries = _entry_rows(containers[0], len(containers))
    parts, names, first = [], [], 1
    for number, (container, rows) in enumerate(zip(containers, entries), 1):
        part = _statement(container, rows, first, f"statement {number}: " if len(containers) > 1 else "")
        parts.append(part)
        names.append(f"statement {number}" + (f" ({part.statement_id})" if part.statement_id else ""))
        first += len(rows)
    return combined(parts, names)


def _statement(container: etree._Element, rows: list[str], first: int, where: str) -> Statement:
    currency = _text(container, "{*}Acct/{*}Ccy")
    balances = {}
    for balance in container.iterfind("{*}Bal"):
        code = _text(balance, "{*}Tp/{*}CdOrPrtry/{*}Cd")
        amount = balance.find("{*}Amt")
        if code is None or amount is None:
            continue
        currency = currency or amount.get("Ccy")
        balances[code] = (_signed(amount, balance, currency or "XXX", f"{where}balance {code}"), _date(balance, "{*}Dt/{*}Dt"))
    if not currency:
        # A notification (camt.054) or a report may state no balance: its entries' amounts name the currency.
        currency = next((found.get("Ccy") for found in container.iterfind("{*}Ntry/{*}Amt") if found.get("Ccy")), None)
    if not currency:
        raise StatementMalformed(f"{where}the statement names no currency (Acct/Ccy, the balances' or the entries' Ccy)")
    lines = tuple(_line(row.split("\t"), number, currency) for number, row in enumerate(rows, first))
    opening = balances.get("OPBD") or balances.get("PRCD")
    closing = balances.get("CLBD")
    return Statement(
        currency=currency, opening_minor=opening[0] if opening else None, closing_minor=closing[0] if closing else None,
        lines=lines, statement_id=_text(container, "{*}Id"),
        account=_text(container, "{*}Acct/{*}Id/{*}IBAN") or _text(container, "{*}Acct/{*}Id/{*}Othr/{*}Id"),
        opening_date=opening[1] if opening else None, closing_date=closing[1] if closing else None,
    )


# The entries' fields, read in one pass by libxslt (in C): one output line per Ntry, the fields
# tab-separated, each through normalize-space (so no field holds a tab or a newline, and the
# whitespace is collapsed as `clip` would). A find() per field per entry from Python costs ~10x more.
_fields = (
    ("amount_given", "c:Amt", True), ("amount", "c:Amt", False), ("amount_currency", "c:Amt/@Ccy", False),
    ("side", "c:CdtDbtInd", False), ("booked", "c:BookgDt/c:Dt", False), ("booked_time", "c:BookgDt/c:DtTm", False),
    ("value_date", "c:ValDt/c:Dt", False), ("servicer_ref", "c:AcctSvcrRef", False), ("entry_ref", "c:NtryRef", False),
    ("details", "$d", True), ("end_to_end", "$d/c:Refs/c:EndToEndId", False),
    ("debtor", "$d/c:RltdPties/c:Dbtr/c:Nm", False), ("debtor_party", "$d/c:RltdPties/c:Dbtr/c:Pty/c:Nm", False),
    ("debtor_iban", "$d/c:RltdPties/c:DbtrAcct/c:Id/c:IBAN", False),
    ("debtor_other", "$d/c:RltdPties/c:DbtrAcct/c:Id/c:Othr/c:Id", False),
    ("creditor", "$d/c:RltdPties/c:Cdtr/c:Nm", False), ("creditor_party", "$d/c:RltdPties/c:Cdtr/c:Pty/c:Nm", False),
    ("creditor_iban", "$d/c:RltdPties/c:CdtrAcct/c:Id/c:IBAN", False),
    ("creditor_other", "$d/c:RltdPties/c:CdtrAcct/c:Id/c:Othr/c:Id", False),
    ("remittance", None, False), ("additional", "c:AddtlNtryInf", False),
)


_transforms = threading.local()  # one compiled stylesheet per thread: libxslt's state is not shared across threads
transforms_per_thread_max = 16


def _entries_transform(namespace: str | None, container: str) -> etree.XSLT:
    """The stylesheet for a container (Stmt, Rpt, Ntfctn) in a namespace (camt versions differ in it),
    compiled once per thread."""
    cache = getattr(_transforms, "cache", None)
    if cache is None:
        cache = _transforms.cache = {}
    found = cache.get((namespace, container))
    if found is None:
        if len(cache) >= transforms_per_thread_max:
            cache.clear()
        found = cache[(namespace, container)] = _compile_transform(namespace, container)
    return found


def _compile_transform(namespace: str | None, container: str) -> etree.XSLT:
    prefix = "c:" if namespace else ""
    parts = []
    for name, path, presence in _fields:
        if name == "remittance":  # every Ustrd, joined by a space
            parts.append('<xsl:for-each select="$d/c:RmtInf/c:Ustrd"><xsl:value-of select="normalize-space(.)"/>'
                         "<xsl:text> </xsl:text></xsl:for-each>")
        elif presence:
            parts.append(f'<xsl:if test="{path}">1</xsl:if>')
        else:
            parts.append(f'<xsl:value-of select="normalize-space({path})"/>')
    row = "<xsl:text>&#9;</xsl:text>".join(parts).replace("c:", prefix)
    declaration = f' xmlns:c="{escape(namespace, {chr(34): "&quot;"})}"' if namespace else ""
    stylesheet = (
        f'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"{declaration}>'
        '<xsl:output method="text" encoding="UTF-8"/>'
        f'<xsl:template match="/"><xsl:for-each select="//{prefix}{container}"><xsl:text>#&#10;</xsl:text>'
        f'<xsl:for-each select="{prefix}Ntry"><xsl:variable name="d" select="({prefix}NtryDtls/{prefix}TxDtls)[1]"/>'
        f"{row}<xsl:text>&#10;</xsl:text></xsl:for-each></xsl:for-each></xsl:template></xsl:stylesheet>"
    )
    # The stylesheet is ours and reads nothing but the tree it is given: no files, no network.
    return etree.XSLT(etree.XML(stylesheet.encode()), access_control=etree.XSLTAccessControl.DENY_ALL)


def _entry_rows(container: etree._Element, containers: int) -> list[list[str]]:
    """Each container's entries as rows of tab-separated fields, in one pass over the document: each
    container's rows follow a line "#" (an entry's row always holds tabs, so it is never that line)."""
    name = etree.QName(container)
    text = str(_entries_transform(name.namespace, name.localname)(container.getroottree()))
    parts: list[list[str]] = []
    for row in text.split("\n")[:-1]:  # the last row's newline leaves an empty tail
        if row == "#":
            parts.append([])
        else:
            parts[-1].append(row)
    if len(parts) != containers:
        raise StatementMalformed(f"the document's {containers} statements could not be read")
    return parts


def _line(fields: list[str], number: int, currency: str) -> StatementLine:
    where = f"entry {number}"
    if len(fields) != len(_fields):
        raise StatementMalformed(f"{where}: cannot be read", line=number)
    (_, amount, amount_currency, side, booked, booked_time, value_date, servicer_ref, entry_ref, details, end_to_end,
     debtor, debtor_party, debtor_iban, debtor_other, creditor, creditor_party, creditor_iban, creditor_other,
     remittance, additional) = fields
    if not fields[0]:
        raise StatementMalformed(f"{where}: no Amt", line=number)
    if amount_currency and amount_currency != currency:
        raise StatementMalformed(f"{where}: amount in {amount_currency}, statement in {currency}", line=number)
    # A notification's entry (camt.054) may carry its value date alone: the day the money moved.
    day = _day(booked) or _day(booked_time) or _day(value_date)
    if day is None:
        raise StatementMalformed(f"{where}: no booking date or value date", line=number)
    minor = _side(minor_from_text(amount, currency, where=where), side, where)
    name = account = None
    if details:
        if end_to_end == "NOTPROVIDED":
            end_to_end = ""
        if minor > 0:
            name, account = debtor or debtor_party, debtor_iban or debtor_other
        else:
            name, account = creditor or creditor_party, creditor_iban or creditor_other
    return StatementLine(
        booking_date=day, amount_minor=minor, value_date=_day(value_date),
        bank_reference=_clipped(servicer_ref or entry_ref), end_to_end_id=_clipped(end_to_end),
        counterparty_name=_clipped(name), counterparty_account=_clipped(account), remittance=clip(remittance or additional),
    )


def _clipped(text: str | None) -> str | None:
    """`clip` of a field the stylesheet passed through normalize-space: ASCII text has its whitespace
    collapsed already (XML allows no other ASCII whitespace), so only the length is cut; other text
    (which may hold Unicode spaces) goes through `clip`. The remittance, whose parts the stylesheet
    joins with a trailing space, always goes through `clip`."""
    if not text:
        return None
    return text[:text_length_max] if text.isascii() else clip(text)


def _side(minor: int, side: str, where: str) -> int:
    if minor < 0:
        raise StatementMalformed(f"{where}: amounts are unsigned; CdtDbtInd gives the side")
    if side not in ("CRDT", "DBIT"):
        raise StatementMalformed(f"{where}: CdtDbtInd must be CRDT or DBIT, got {side or None!r}")
    return minor if side == "CRDT" else -minor


def _day(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise StatementMalformed(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _signed(amount: etree._Element, owner: etree._Element, currency: str, where: str) -> int:
    minor = minor_from_text(amount.text or "", currency, where=where)
    if minor < 0:
        raise StatementMalformed(f"{where}: amounts are unsigned; CdtDbtInd gives the side")
    side = _text(owner, "{*}CdtDbtInd")
    if side not in ("CRDT", "DBIT"):
        raise StatementMalformed(f"{where}: CdtDbtInd must be CRDT or DBIT, got {side!r}")
    return minor if side == "CRDT" else -minor


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _date(element: etree._Element, path: str) -> dt.date | None:
    text = _text(element, path)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise StatementMalformed(f"{text!r} is not a date (YYYY-MM-DD)") from None

