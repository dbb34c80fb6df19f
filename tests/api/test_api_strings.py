"""Every String and ID argument of the served schema, at any depth of its input, refuses an over-long value
and a lone surrogate with a typed error naming the field: never INTERNAL_SERVER_ERROR, never the database.

The documents are built from the schema itself (graphql_api.schema), so a field added later is walked too.
"""
from __future__ import annotations

import asyncio
import json

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
)

from graphql_api.core.errors import masked_code
from graphql_api.core.strings import _stated_max, install_string_checks
from graphql_api.schema import schema as api_schema
from identity.model import Role

served = api_schema._schema
samples = {"Int": 1, "Float": 1.5, "Boolean": False, "Decimal": "1", "Date": "2026-01-15", "DateTime": "2026-01-15T00:00:00Z",
           "JSON": {}, "String": "x", "ID": "x"}


def sample(type_):
    """A value of the input type with its required parts filled in."""
    if isinstance(type_, GraphQLNonNull):
        return sample(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [sample(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {name: sample(f.type) for name, f in type_.fields.items() if isinstance(f.type, GraphQLNonNull)}
    return samples[type_.name]


def string_paths(type_, definition, name, seen=frozenset()):
    """(path as keys and list indexes, the stated maximum) of every String/ID inside a value of this type."""
    if isinstance(type_, GraphQLNonNull):
        yield from string_paths(type_.of_type, definition, name, seen)
    elif isinstance(type_, GraphQLList):
        for path, limit in string_paths(type_.of_type, definition, name, seen):
            yield (0, *path), limit
    elif isinstance(type_, GraphQLInputObjectType) and type_.name not in seen:
        for field_name, field in type_.fields.items():
            for path, limit in string_paths(field.type, field, field_name, seen | {type_.name}):
                yield (field_name, *path), limit
    elif get_named_type(type_).name in ("String", "ID"):
        yield (), _stated_max(definition, name, get_named_type(type_).name)


def with_value(type_, value, path, bad):
    """`value` (a sample of `type_` where missing) with `bad` at `path`."""
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if not path:
        return bad
    if value is None:
        value = sample(type_)
    head, *rest = path
    if isinstance(head, int):
        return [with_value(type_.of_type, value[0] if value else None, rest, bad)]
    return {**value, head: with_value(type_.fields[head].type, value.get(head), rest, bad)}


def selection(type_) -> str:
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLUnionType):
        extra = " ... on InvalidInputError { field }" if any(t.name == "InvalidInputError" for t in named.types) else ""
        return "{ __typename ... on Error { code message }" + extra + " }"
    return "{ __typename }"


def cases():
    for root, kind in ((served.query_type, "query"), (served.mutation_type, "mutation")):
        for field_name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                for path, limit in string_paths(arg.type, arg, arg_name):
                    yield kind, field_name, field, arg_name, path, limit


def field_text(arg_name, path) -> str:
    parts = [] if arg_name == "input" else [arg_name]
    text = ".".join(parts)
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def document(kind, field_name, field):
    declared = ", ".join(f"${name}: {arg.type}" for name, arg in field.args.items())
    passed = ", ".join(f"{name}: ${name}" for name in field.args)
    return f"{kind}({declared}) {{ {field_name}({passed}) {selection(field.type)} }}"


def send(api, body, token):
    """The body as JSON escapes ("\\ud800"), the way a client's JSON encoder spells a lone surrogate."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return api.client.post(f"{api.base_url}/graphql", content=json.dumps(body, ensure_ascii=True), headers=headers)


def test_the_walk_reaches_every_string_argument_the_issue_counted():
    all_cases = list(cases())
    assert len(all_cases) >= 120
    assert {("createLoanProduct", ("name",)), ("account", ()), ("borrowers", ()), ("postJournalEntry", ("postings", 0, "accountCode"))} \
        <= {(c[1], c[4]) for c in all_cases}
    assert install_string_checks(served) == 0  # installed once, when the schema was built


@pytest.mark.parametrize("bad", ["over-long", "lone surrogate"])
def test_every_string_argument_refuses_a_bad_value_with_a_typed_error(api, bad):
    token = api.tenant(Role.ADMIN).tokens[Role.ADMIN]
    problems = []
    checked = 0
    for kind, field_name, field, arg_name, path, limit in cases():
        variables = {name: sample(arg.type) for name, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
        value = "a" * (limit + 1) if bad == "over-long" else "ok\ud800"
        variables[arg_name] = with_value(field.args[arg_name].type, variables.get(arg_name), path, value)
        response = send(api, {"query": document(kind, field_name, field), "variables": variables}, token)
        expected_field = field_text(arg_name, path)
        checked += 1
        if bad == "lone surrogate":
            # Refused where NUL is: at the HTTP layer, before any resolver.
            if response.status_code != 400 or "surrogate" not in response.text:
                problems.append(f"{field_name} {expected_field}: {response.status_code} {response.text[:200]}")
            continue
        body = response.json()
        errors = body.get("errors") or []
        result = (body.get("data") or {}).get(field_name)
        if any((err.get("extensions") or {}).get("code") == masked_code for err in errors):
            problems.append(f"{field_name} {expected_field}: INTERNAL_SERVER_ERROR")
        elif isinstance(result, dict) and result.get("__typename") == "InvalidInputError":
            if result["field"] != expected_field or result["code"] != "INVALID_INPUT":
                problems.append(f"{field_name} {expected_field}: {result}")
        elif errors:
            ext = errors[0].get("extensions") or {}
            if ext.get("code") != "BAD_USER_INPUT" or ext.get("field") != expected_field:
                problems.append(f"{field_name} {expected_field}: {errors[0]}")
        else:
            problems.append(f"{field_name} {expected_field}: accepted {str(body)[:200]}")
    assert checked >= 120
    assert not problems, "\n".join(problems)


def test_a_lone_surrogate_in_a_literal_is_a_document_error(api):
    token = api.tenant(Role.ADMIN).tokens[Role.ADMIN]
    body = send(api, {"query": '{ account(code: "1\ud800") { code } }'}, token).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body


@pytest.mark.parametrize("value", ["a" * 201, "ok\ud800", "nul\x00"])
def test_in_process_execution_applies_the_same_check(value):
    """Without the HTTP layer (a test client, a script), the resolvers' own check still refuses it before any work."""
    result = asyncio.run(api_schema.execute(
        "mutation($i: CreateLoanProductInput!) { createLoanProduct(input: $i) { __typename ... on InvalidInputError { field code } } }",
        variable_values={"i": {**sample(served.type_map["CreateLoanProductInput"]), "name": value}},
    ))
    assert result.errors is None, result.errors
    assert result.data["createLoanProduct"] == {"__typename": "InvalidInputError", "field": "name", "code": "INVALID_INPUT"}
