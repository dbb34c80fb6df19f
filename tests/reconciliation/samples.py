"""Statements in every format, written by the tests from plain data (no fixture files to go stale)."""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple
from xml.sax.saxutils import escape


class Item(NamedTuple):
    day: dt.date
    amount: Decimal  # money in > 0
    reference: str | None = None  # the bank's own reference
    end_to_end_id: str | None = None
    name: str | None = None
    remittance: str | None = None
    account: str | None = None


def camt053(items: Sequence[Item], *, opening: Decimal = Decimal("0"), currency: str = "CNY", statement_id: str = "STMT-1",
            iban: str = "CN0000000001", closing: Decimal | None = None) -> bytes:
    closing = opening + sum((i.amount for i in items), Decimal("0")) if closing is None else closing
    first = min((i.day for i in items), default=dt.date(2026, 1, 1))
    last = max((i.day for i in items), default=first)

    def balance(code: str, amount: Decimal, day: dt.date) -> str:
        side = "CRDT" if amount >= 0 else "DBIT"
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{currency}\">{abs(amount):.2f}</Amt>"
                f"<CdtDbtInd>{side}</CdtDbtInd><Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>")

    entries = []
    for item in items:
        party = "Dbtr" if item.amount > 0 else "Cdtr"
        details = ""
        if item.end_to_end_id or item.name or item.remittance or item.account:
            details = "<NtryDtls><TxDtls>"
            if item.end_to_end_id:
                details += f"<Refs><EndToEndId>{escape(item.end_to_end_id)}</EndToEndId></Refs>"
            if item.name or item.account:
                details += "<RltdPties>"
                if item.name:
                    details += f"<{party}><Nm>{escape(item.name)}</Nm></{party}>"
                if item.account:
                    details += f"<{party}Acct><Id><IBAN>{escape(item.account)}</IBAN></Id></{party}Acct>"
                details += "</RltdPties>"
            if item.remittance:
                details += f"<RmtInf><Ustrd>{escape(item.remittance)}</Ustrd></RmtInf>"
            details += "</TxDtls></NtryDtls>"
        entries.append(
            f"<Ntry><Amt Ccy=\"{currency}\">{abs(item.amount):.2f}</Amt><CdtDbtInd>{'CRDT' if item.amount > 0 else 'DBIT'}</CdtDbtInd>"
            f"<Sts>BOOK</Sts><BookgDt><Dt>{item.day.isoformat()}</Dt></BookgDt><ValDt><Dt>{item.day.isoformat()}</Dt></ValDt>"
            + (f"<AcctSvcrRef>{escape(item.reference)}</AcctSvcrRef>" if item.reference else "")
            + f"{details}</Ntry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        "<GrpHdr><MsgId>MSG</MsgId><CreDtTm>2026-01-31T00:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>"
        + balance("OPBD", opening, first) + balance("CLBD", closing, last) + "".join(entries) + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def mt940(items: Sequence[Item], *, opening: Decimal = Decimal("0"), currency: str = "EUR") -> bytes:
    def amount(value: Decimal) -> str:
        return f"{abs(value):.2f}".replace(".", ",")

    first = min(i.day for i in items)
    closing = opening + sum((i.amount for i in items), Decimal("0"))
    out = [":20:STMT1", ":25:NL12BANK0123456789", ":28C:1/1",
           f":60F:{'C' if opening >= 0 else 'D'}{first:%y%m%d}{currency}{amount(opening)}"]
    for item in items:
        side = "C" if item.amount > 0 else "D"
        out.append(f":61:{item.day:%y%m%d}{item.day:%m%d}{side}{amount(item.amount)}NTRF{item.end_to_end_id or 'NONREF'}"
                   f"//{item.reference or 'NOREF'}")
        narrative = ""
        if item.end_to_end_id:
            narrative += f"/EREF/{item.end_to_end_id}"
        narrative += f"/REMI/{item.remittance or 'payment'}"
        if item.name:
            narrative += f"/NAME/{item.name}"
        out.append(f":86:{narrative}")
    last = max(i.day for i in items)
    out.append(f":62F:{'C' if closing >= 0 else 'D'}{last:%y%m%d}{currency}{amount(closing)}")
    return ("\n".join(out) + "\n").encode()


gbk_mapping = {
    "currency": "CNY", "encoding": "gb18030", "header_rows_skip": 2, "date": "交易日期", "date_format": "%Y%m%d",
    "debit": "借方金额", "credit": "贷方金额", "reference": "流水号", "counterparty": "对方户名", "remittance": "摘要",
}


def gbk_csv(items: Sequence[Item]) -> bytes:
    """A Chinese bank's export: two title rows, then debit and credit columns, GB18030 encoded."""
    rows = ["中国某某银行 账户明细", "账号: 6222000000000001", "交易日期,借方金额,贷方金额,流水号,对方户名,摘要"]
    for item in items:
        debit = f"{-item.amount:.2f}" if item.amount < 0 else ""
        credit = f"{item.amount:.2f}" if item.amount > 0 else ""
        rows.append(f"{item.day:%Y%m%d},{debit},{credit},{item.reference or ''},{item.name or ''},{item.remittance or ''}")
    return ("\r\n".join(rows) + "\r\n").encode("gb18030")


xlsx_mapping = {"currency": "CNY", "date": "Date", "amount": "Amount", "reference": "Ref", "counterparty": "Payer",
                "remittance": "Narrative"}


def xlsx(items: Sequence[Item]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Date", "Amount", "Ref", "Payer", "Narrative"])
    for item in items:
        sheet.append([item.day, f"{item.amount:.2f}", item.reference, item.name, item.remittance])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ofx(items: Sequence[Item], *, currency: str = "USD", closing: Decimal | None = None, card: bool = False) -> bytes:
    """An OFX 2.2 (XML) statement download: a bank statement, or a credit card's with `card`."""
    first = min((i.day for i in items), default=dt.date(2026, 1, 1))
    last = max((i.day for i in items), default=first)
    closing = sum((i.amount for i in items), Decimal("0")) if closing is None else closing
    transactions = []
    for number, item in enumerate(items, 1):
        parts = [f"<TRNTYPE>{'CREDIT' if item.amount > 0 else 'DEBIT'}</TRNTYPE>",
                 f"<DTPOSTED>{item.day:%Y%m%d}120000.000[+8:CST]</DTPOSTED>", f"<DTUSER>{item.day:%Y%m%d}</DTUSER>",
                 f"<TRNAMT>{item.amount:.2f}</TRNAMT>", f"<FITID>{escape(item.reference or f'FIT{number}')}</FITID>"]
        if item.end_to_end_id:
            parts.append(f"<REFNUM>{escape(item.end_to_end_id)}</REFNUM>")
        if item.name:
            parts.append(f"<NAME>{escape(item.name)}</NAME>")
        if item.account:
            parts.append(f"<BANKACCTTO><BANKID>999</BANKID><ACCTID>{escape(item.account)}</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE>"
                         "</BANKACCTTO>")
        if item.remittance:
            parts.append(f"<MEMO>{escape(item.remittance)}</MEMO>")
        transactions.append("<STMTTRN>" + "".join(parts) + "</STMTTRN>")
    account = ("<CCACCTFROM><ACCTID>4000123412341234</ACCTID></CCACCTFROM>" if card else
               "<BANKACCTFROM><BANKID>121099999</BANKID><ACCTID>999988</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>")
    body = (f"<CURDEF>{currency}</CURDEF>{account}<BANKTRANLIST><DTSTART>{first:%Y%m%d}</DTSTART><DTEND>{last:%Y%m%d}</DTEND>"
            + "".join(transactions) + f"</BANKTRANLIST><LEDGERBAL><BALAMT>{closing:.2f}</BALAMT><DTASOF>{last:%Y%m%d}</DTASOF>"
            "</LEDGERBAL>")
    wrapper = ("CREDITCARDMSGSRSV1", "CCSTMTTRNRS", "CCSTMTRS") if card else ("BANKMSGSRSV1", "STMTTRNRS", "STMTRS")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        '<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
        "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        "<DTSERVER>20260201</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1>"
        f"<{wrapper[0]}><{wrapper[1]}><TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        f"<{wrapper[2]}>{body}</{wrapper[2]}></{wrapper[1]}></{wrapper[0]}></OFX>\n"
    ).encode()
