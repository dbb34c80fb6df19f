"""schemathesis over GraphQL, with a fixed example budget, against the running API server (PostgreSQL).

Every query and mutation field gets `examples_per_operation` generated documents (schemathesis builds them
from the introspected schema with hypothesis-graphql), sent as an admin of a throwaway tenant that holds
one loan, so some generated ids and nested fields reach real rows. No answer may be a server error (5xx),
and no error may be unexpected or leak internals: a masked error (INTERNAL_SERVER_ERROR, "Unexpected
error.") means a resolver raised something it should have turned into a typed result or a public error,
so it fails here too. Generation is derandomized, so a run is reproducible (hypothesis seeds it from the
test's source: editing the test changes the examples). Raise `examples_per_operation` locally to hunt further.
"""
from __future__ import annotations

import re
import time

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from graphql_api.core.errors import masked_code, masked_message
from graphql_api.schema import schema as api_schema
from identity.model import Role
from tests.api.lending import Desk

examples_per_operation = 15
request_seconds_max = 10
# What an internal failure would look like if it reached a client unmasked.
leak_pattern = re.compile(
    r"Traceback|File \"|sqlalchemy|psycopg|sqlite3|IntegrityError|OperationalError|ProgrammingError|"
    r"\bSELECT\b.*\bFROM\b|\bINSERT INTO\b|\bUPDATE\b.*\bSET\b|/site-packages/|\.py\b|AssertionError|KeyError|AttributeError",
    re.DOTALL,
)

# Our own scalars: Decimal is a decimal string ("888.49"); also well-formed-looking and junk strings.
schemathesis.graphql.scalar("Decimal", st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9, max_value=10**9).map(str),
    st.from_regex(r"\A-?[0-9]{1,25}(\.[0-9]{0,12})?\Z"),
    st.text(max_size=30),
).map(nodes.String))
schemathesis.graphql.scalar("JSON", st.one_of(
    st.text(max_size=20).map(nodes.String), st.integers().map(nodes.Int), st.booleans().map(nodes.Boolean), st.just(nodes.Null),
))


def problems_in(status: int, text: str, body: object) -> list[str]:
    found = []
    if status >= 500:
        found.append(f"server error {status}")
    elif status != 200:
        return found  # a request refused as malformed (e.g. 400 for a NUL character): the client's mistake
    if not isinstance(body, dict):
        return [*found, f"not a JSON object: {text[:200]}"]
    for error in body.get("errors") or []:
        message = str(error.get("message", ""))
        code = (error.get("extensions") or {}).get("code")
        if code == masked_code or message == masked_message:
            found.append(f"unexpected (masked) error at {error.get('path')}")
        elif leak_pattern.search(message) or "stacktrace" in (error.get("extensions") or {}) or "exception" in (error.get("extensions") or {}):
            found.append(f"error leaks internals: {message[:300]}")
    return found


@pytest.fixture(scope="module")
def fuzz_target(pg_api_server):
    desk = Desk(pg_api_server)
    desk.repaid()  # a product, a borrower, an active loan with a repayment: something for the generated queries to find
    schema = schemathesis.graphql.from_url(f"{pg_api_server.base_url}/graphql", timeout=30)
    return pg_api_server, desk.tokens[Role.ADMIN], schema


def operations(schema) -> list:  # noqa: ANN001
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_answers_without_server_or_unexpected_errors(fuzz_target):
    api, token, schema = fuzz_target
    found: dict[str, list[str]] = {}
    timings: dict[str, float] = {}
    ops = operations(schema)
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(timeout=request_seconds_max)
    served = api_schema._schema
    wanted = {f"Query.{name}" for name in served.query_type.fields} | {f"Mutation.{name}" for name in served.mutation_type.fields}
    assert {op.label for op in ops} == wanted  # every root field is exercised

    for operation in ops:

        @hypothesis.settings(
            max_examples=examples_per_operation, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate],
        )
        @given(case=operation.as_strategy())
        def exercise(case) -> None:  # noqa: ANN001
            try:
                response = client.post(f"{api.base_url}/graphql", json={"query": case.body}, headers=headers)
            except httpx.TimeoutException:
                found.setdefault(operation.label, []).append(f"no answer within {request_seconds_max} s\n    document: {case.body[:600]}")
                return
            try:
                body = response.json()
            except ValueError:
                body = None
            for problem in problems_in(response.status_code, response.text, body):
                found.setdefault(operation.label, []).append(f"{problem}\n    document: {case.body[:600]}")

        started = time.perf_counter()
        exercise()
        timings[operation.label] = time.perf_counter() - started
    client.close()
    slowest = sorted(timings.items(), key=lambda item: -item[1])[:5]
    print("slowest operations: " + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in slowest))

    report = "\n".join(f"{label}: {problems[0]} ({len(problems)} case(s))" for label, problems in sorted(found.items()))
    assert not found, f"{len(found)} operation(s) answered badly; server log tail:\n{api.server_log()[-3000:]}\n{report}"


@pytest.mark.parametrize("where", ["literal", "variable"])
def test_a_nul_character_is_refused_not_an_unexpected_error(api, where):
    """Found by the fuzz test: PostgreSQL cannot store NUL in text, so a NUL in any string argument failed its statement."""
    token = api.tenant(Role.ADMIN).tokens[Role.ADMIN]
    if where == "literal":
        body = api.graphql('{ loanProduct(code: "A\\u0000B") { name } }', token=token)
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body
        assert "NUL" in body["errors"][0]["message"]
    else:
        response = api.post({"query": "query($c: String!) { loanProduct(code: $c) { name } }", "variables": {"c": "A\x00B"}}, token=token)
        assert response.status_code == 400, response.text
        assert "NUL" in response.text
