"""ISO 20022 camt.053 (and camt.052/054, which share the entry shape) parsed with a hardened lxml.

The document is parsed by reconciliation.hardened_xml (a DOCTYPE or entity refused, no DTD, no
entity expansion, no network). Amounts are read from the element text as Decimal.
"""
from __future__ import annotations

import datetime as dt

from lxml import etree

from reconciliation.errors import StatementMalformed
from reconciliation.hardened_xml import parse_hardened
from reconciliation.model import Statement, StatementLine, clip, minor_from_text

_containers = ("Stmt", "Rpt", "Ntfctn")  # camt.053, camt.052, camt.054


def parse_camt(content: bytes) -> Statement:
    """The first statement (report, notification) of a camt document."""
    root = parse_hardened(content, "camt")
    container = next((found for tag in _containers if (found := root.find(f".//{{*}}{tag}")) is not None), None)
    if container is None:
        raise StatementMalformed("no Stmt, Rpt or Ntfctn element: not a camt.053/052/054 document")
    currency = _text(container, "{*}Acct/{*}Ccy")
    balances = {}
    for balance in container.iterfind("{*}Bal"):
        code = _text(balance, "{*}Tp/{*}CdOrPrtry/{*}Cd")
        amount = balance.find("{*}Amt")
        if code is None or amount is None:
            continue
        currency = currency or amount.get("Ccy")
        balances[code] = (_signed(amount, balance, currency or "XXX", f"balance {code}"), _date(balance, "{*}Dt/{*}Dt"))
    if not currency:
        raise StatementMalformed("the statement names no currency (Acct/Ccy or the balances' Ccy)")
    lines = tuple(_line(entry, number, currency) for number, entry in enumerate(container.iterfind("{*}Ntry"), 1))
    opening = balances.get("OPBD") or balances.get("PRCD")
    closing = balances.get("CLBD")
    return Statement(
        currency=currency, opening_minor=opening[0] if opening else None, closing_minor=closing[0] if closing else None,
        lines=lines, statement_id=_text(container, "{*}Id"),
        account=_text(container, "{*}Acct/{*}Id/{*}IBAN") or _text(container, "{*}Acct/{*}Id/{*}Othr/{*}Id"),
        opening_date=opening[1] if opening else None, closing_date=closing[1] if closing else None,
    )


def _line(entry: etree._Element, number: int, currency: str) -> StatementLine:
    where = f"entry {number}"
    amount = entry.find("{*}Amt")
    if amount is None:
        raise StatementMalformed(f"{where}: no Amt", line=number)
    if amount.get("Ccy") and amount.get("Ccy") != currency:
        raise StatementMalformed(f"{where}: amount in {amount.get('Ccy')}, statement in {currency}", line=number)
    booked = _date(entry, "{*}BookgDt/{*}Dt") or _date_time(entry, "{*}BookgDt/{*}DtTm")
    if booked is None:
        raise StatementMalformed(f"{where}: no booking date", line=number)
    minor = _signed(amount, entry, currency, where)
    details = entry.find("{*}NtryDtls/{*}TxDtls")
    end_to_end = name = account = remittance = None
    if details is not None:
        end_to_end = _text(details, "{*}Refs/{*}EndToEndId")
        if end_to_end == "NOTPROVIDED":
            end_to_end = None
        party = "Dbtr" if minor > 0 else "Cdtr"
        name = _text(details, f"{{*}}RltdPties/{{*}}{party}/{{*}}Nm") or _text(details, f"{{*}}RltdPties/{{*}}{party}/{{*}}Pty/{{*}}Nm")
        account = (_text(details, f"{{*}}RltdPties/{{*}}{party}Acct/{{*}}Id/{{*}}IBAN")
                   or _text(details, f"{{*}}RltdPties/{{*}}{party}Acct/{{*}}Id/{{*}}Othr/{{*}}Id"))
        remittance = " ".join(t.text or "" for t in details.iterfind("{*}RmtInf/{*}Ustrd")) or None
    remittance = remittance or _text(entry, "{*}AddtlNtryInf")
    return StatementLine(
        booking_date=booked, amount_minor=minor, value_date=_date(entry, "{*}ValDt/{*}Dt"),
        bank_reference=clip(_text(entry, "{*}AcctSvcrRef") or _text(entry, "{*}NtryRef")), end_to_end_id=clip(end_to_end),
        counterparty_name=clip(name), counterparty_account=clip(account), remittance=clip(remittance),
    )


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


def _date_time(element: etree._Element, path: str) -> dt.date | None:
    text = _text(element, path)
    return None if text is None else _date(element, path)
