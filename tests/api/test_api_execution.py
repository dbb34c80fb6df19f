"""The plain-field shortcut through the executor answers exactly what graphql-core's general path answers,
errors and nulls included."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_api.core.execution import PlainFieldExecutor


def refuse(value: object) -> str:
    raise ValueError("this scalar refuses every value")


class Refused(str):
    pass


RefusingScalar = strawberry.scalar(name="Refusing", serialize=refuse, parse_value=Refused)


@strawberry.type
class Amount:
    amount: str
    currency: str


@strawberry.type
class Line:
    number: int
    due: dt.date
    total: Amount
    maybe_total: Amount | None
    note: str | None
    refused: Refused

    @strawberry.field
    def computed(self) -> int:
        return self.number * 10


@strawberry.type
class Pair:
    first: Amount
    second: Amount | None


@strawberry.type
class Query:
    lines: list[Line]
    optional_lines: list[Line | None]
    pairs: list[Pair]

    @strawberry.field
    async def loaded_lines(self) -> list[Line]:
        return self.lines + self.optional_lines[1:]


def line(day: int, **overrides: object) -> Line:
    values = {"number": day, "due": dt.date(2026, 1, day), "total": Amount(amount=f"{day}.00", currency="CNY"),
              "maybe_total": None, "note": None, "refused": Refused("x")}
    return Line(**{**values, **overrides})


broken_amount = Amount(amount=None, currency="CNY")  # type: ignore[arg-type]
ROOT = Query(
    lines=[line(1), line(2, maybe_total=Amount(amount="2.50", currency="JPY"), note="n")],
    optional_lines=[line(3, number=None), line(4, total=broken_amount), line(5, maybe_total=broken_amount), line(6)],  # type: ignore[arg-type]
    pairs=[Pair(first=Amount(amount="1", currency="JPY"), second=None), Pair(first=broken_amount, second=broken_amount),
           Pair(first=Amount(amount="2", currency="JPY"), second=Amount(amount="3", currency="JPY"))],
)
DOCUMENTS = [
    "{ lines { number due total { amount currency } maybeTotal { amount } note computed } }",
    "{ lines { total { amount a: amount __typename } } }",
    "{ lines { refused } }",
    "{ optionalLines { number } }",
    "{ optionalLines { total { amount currency } } }",
    "{ optionalLines { number maybeTotal { amount } } }",
    "{ optionalLines { ... on Line { due total { ... on Amount { currency } } } } }",
    "{ lines { number @skip(if: true) note @include(if: false) computed } }",
    "{ loadedLines { number due total { amount } maybeTotal { amount currency } note } }",
    "{ loadedLines { due total { currency } } }",
    "{ pairs { first { amount } second { amount currency } } }",
    "{ pairs { second { currency } } }",
    "{ p: pairs { f: first { currency } first { amount } } }",
]


def execute(executor: type, document: str) -> tuple[object, list[tuple[str, object]]]:
    schema = strawberry.Schema(
        query=Query, execution_context_class=executor, config=StrawberryConfig(scalar_map={Refused: RefusingScalar})
    )
    result = asyncio.run(schema.execute(document, root_value=ROOT))
    return result.data, sorted((error.message, error.path) for error in result.errors or [])


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_shortcut_answers_like_the_general_path(document):
    assert execute(PlainFieldExecutor, document) == execute(StrawberryGraphQLCoreExecutionContext, document)
