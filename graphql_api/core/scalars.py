"""The Decimal scalar, opaque ids and cursors: how values cross the wire.

Amounts and rates travel as decimal strings. A JSON number is refused, whether written as a literal
in the document or sent in the variables: by the time a JSON parser has turned `0.1` into a binary
float, the amount the client meant is already gone.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import uuid
from decimal import Decimal

import strawberry

from graphql_api.core.errors import BadUserInput

decimal_text_length_max = 64
id_text_length_max = 120
cursor_text_length_max = 400
_decimal_text = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def parse_decimal_text(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str):
        kind = "boolean" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else type(value).__name__
        raise BadUserInput(
            f'Decimal values are strings such as "1234.50", not a JSON {kind}: '
            "a JSON number may already have lost digits to binary floating point"
        )
    if len(value) > decimal_text_length_max or not _decimal_text.match(value):
        shown = value if len(value) <= decimal_text_length_max else value[:decimal_text_length_max] + "..."
        raise BadUserInput(f'{shown!r} is not a decimal string: use digits, an optional "-" and an optional ".", e.g. "1234.50"')
    return Decimal(value)


def serialize_decimal(value: Decimal) -> str:
    assert isinstance(value, Decimal) and value.is_finite(), value
    # str() is exact and six times faster than format(); it switches to exponent notation only for
    # very small or positively scaled values ("1E-7", "1E+3"), which get the plain form.
    text = str(value)
    return format(value, "f") if "E" in text else text


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description=(
        'An exact decimal number, sent and returned as a string such as "1234.50" or "0.049". '
        "JSON numbers are refused: binary floating point cannot carry most amounts exactly."
    ),
    serialize=serialize_decimal,
    parse_value=parse_decimal_text,
)


def encode_id(kind: str, value: uuid.UUID) -> strawberry.ID:
    """Opaque global id: clients keep it and send it back, never build or parse it."""
    return strawberry.ID(_b64encode(f"{kind}:{value}"))


def decode_id(kind: str, text: str) -> uuid.UUID:
    """The UUID inside an id of the given kind; anything else is a BadUserInput naming the id."""
    decoded = _b64decode(text, id_text_length_max)
    prefix, sep, rest = (decoded or "").partition(":")
    if not sep or prefix != kind:
        raise BadUserInput(f"{_shown(text)!r} is not a {kind} id")
    try:
        return uuid.UUID(rest)
    except ValueError:
        raise BadUserInput(f"{_shown(text)!r} is not a {kind} id") from None


def encode_cursor(kind: str, *parts: str) -> str:
    return _b64encode(json.dumps([kind, *parts], separators=(",", ":")))


def decode_cursor(kind: str, text: str, parts: int) -> list[str]:
    decoded = _b64decode(text, cursor_text_length_max)
    try:
        value = json.loads(decoded) if decoded is not None else None
    except ValueError:
        value = None
    if (
        not isinstance(value, list)
        or len(value) != parts + 1
        or value[0] != kind
        or not all(isinstance(p, str) for p in value[1:])
    ):
        raise BadUserInput("the `after` cursor is not one this list returned; start again without it")
    return value[1:]


def utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back naive; loanbook writes every timestamp in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def _b64encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _b64decode(text: str, length_max: int) -> str | None:
    if not isinstance(text, str) or not 0 < len(text) <= length_max:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _shown(text: str) -> str:
    return text if len(text) <= 60 else text[:60] + "..."


page_size_max = 100


def check_page_size(first: int, maximum: int = page_size_max) -> None:
    """Relay's `first`: 1 to the list's maximum page size, else BadUserInput."""
    if not 1 <= first <= maximum:
        raise BadUserInput(f"`first` must be between 1 and {maximum}, got {first}")


def encode_time_cursor(kind: str, at: dt.datetime, row_id: uuid.UUID) -> str:
    """A cursor for lists ordered newest first on (a timestamp, an id)."""
    return encode_cursor(kind, utc(at).isoformat(), str(row_id))


def decode_time_cursor(kind: str, text: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    if text is None:
        return None
    at, row_id = decode_cursor(kind, text, 2)
    try:
        return utc(dt.datetime.fromisoformat(at)), uuid.UUID(row_id)
    except ValueError:
        raise BadUserInput("the `after` cursor is not one this list returned; start again without it") from None
