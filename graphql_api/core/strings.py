"""One check for every string the API takes: a stated maximum length, no NUL, no lone surrogate.

Every argument of every field, and every field of every input object inside one (lists included),
whose type is String or ID is checked before its resolver runs, so before any database sees it:

- length: at most `string_length_max_default` characters unless a longer maximum is stated, per
  name in `string_lengths_max` (the column it lands in is wider) or on the field itself with
  `strawberry.field(metadata={length_max_key: N})` / `strawberry.argument(metadata={length_max_key: N})`;
  ID values at most `id_text_length_max`. The default is the narrowest text column a free-text
  argument reaches (names, references, keys: varchar(200)); tighter columns (codes, currencies,
  national ids) are guarded by their domain's own rule, which answers with its own typed error.
- characters: NUL (U+0000) and lone UTF-16 surrogates (U+D800 to U+DFFF, which JSON can spell as
  "\\ud800" but no text column can store) are refused. The HTTP layer refuses them in variables
  already (graphql_api.app) and a validation rule in literals (graphql_api.core.errors); this is the
  same rule for an operation executed in process.

A refused string is the client's mistake about one field: a mutation whose result union has
InvalidInputError returns one (code INVALID_INPUT, `field` the input path, e.g. `name` or
`postings[2].description`); any other field answers a top-level error with code BAD_USER_INPUT and
the same `field` in its extensions. `install_string_checks(schema)` wraps the resolvers once, when
the schema is built, so a field added to any domain's types is covered without a line of its own.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)

from graphql_api.core.error_types import invalid_input
from graphql_api.core.errors import BadUserInput
from graphql_api.core.scalars import cursor_text_length_max, id_text_length_max

string_length_max_default = 200
# Names whose values land in wider columns (or are parsed from longer text) than the default.
string_lengths_max: dict[str, int] = {
    "description": 500,  # journal_entries.description, journal_entry_requests.description
    "reason": 500,  # audit_events.reason, loans.decision_reason
    "address": 500,  # borrowers.address
    "after": cursor_text_length_max,  # an opaque cursor
}
length_max_key = "length_max"  # strawberry.field / strawberry.argument metadata: this field's own maximum
_surrogate = re.compile("[\ud800-\udfff]")

# How one argument's value is checked: (value, path) -> (message, field path) or None.
Check = Callable[[Any, str], "tuple[str, str] | None"]


def unstorable_character(text: str) -> str | None:
    """What in `text` no text column can store (a NUL or a lone surrogate), described for a person; else None."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if not text.isascii() and _surrogate.search(text):
        return "a lone UTF-16 surrogate (U+D800 to U+DFFF), which is not a character"
    return None


def _stated_max(definition: GraphQLArgument | GraphQLInputField, name: str, scalar: str) -> int:
    own = getattr((definition.extensions or {}).get("strawberry-definition"), "metadata", None) or {}
    if length_max_key in own:
        return int(own[length_max_key])
    if scalar == "ID":
        return id_text_length_max
    return string_lengths_max.get(name, string_length_max_default)


def _string_check(limit: int) -> Check:
    def check(value: Any, path: str) -> tuple[str, str] | None:
        if not isinstance(value, str):
            return None
        if len(value) > limit:
            return f"{path} is at most {limit} characters (got {len(value)})", path
        bad = unstorable_character(value)
        return (f"{path} contains {bad}", path) if bad else None

    return check


def _check_for(type_: Any, definition: GraphQLArgument | GraphQLInputField, name: str, seen: frozenset[str]) -> Check | None:
    """The check of a value of this input type, or None when it holds no String or ID anywhere."""
    if isinstance(type_, GraphQLNonNull):
        return _check_for(type_.of_type, definition, name, seen)
    if isinstance(type_, GraphQLList):
        inner = _check_for(type_.of_type, definition, name, seen)
        if inner is None:
            return None

        def each(value: Any, path: str) -> tuple[str, str] | None:
            for i, item in enumerate(value if isinstance(value, list) else [value]):
                problem = inner(item, f"{path}[{i}]")
                if problem:
                    return problem
            return None

        return each
    if isinstance(type_, GraphQLInputObjectType):
        if type_.name in seen:  # a recursive input: its own fields are checked where it first appears
            return None
        fields = {
            field_name: check
            for field_name, field in type_.fields.items()
            if (check := _check_for(field.type, field, field_name, seen | {type_.name})) is not None
        }
        if not fields:
            return None

        def members(value: Any, path: str) -> tuple[str, str] | None:
            if not isinstance(value, Mapping):
                return None
            for field_name, check in fields.items():
                if value.get(field_name) is not None:
                    problem = check(value[field_name], f"{path}.{field_name}" if path else field_name)
                    if problem:
                        return problem
            return None

        return members
    named = get_named_type(type_)
    if named.name in ("String", "ID"):
        return _string_check(_stated_max(definition, name, named.name))
    return None


def _arguments_check(field: GraphQLField) -> Callable[[Mapping[str, Any]], tuple[str, str] | None] | None:
    checks = {}
    for arg_name, arg in field.args.items():
        check = _check_for(arg.type, arg, arg_name, frozenset())
        if check is not None:
            # A mutation's single `input` object names its fields as the input's own (`name`, not `input.name`).
            checks[arg_name] = (check, "" if arg_name == "input" and isinstance(get_named_type(arg.type), GraphQLInputObjectType) else arg_name)
    if not checks:
        return None

    def check_all(kwargs: Mapping[str, Any]) -> tuple[str, str] | None:
        for arg_name, (check, path) in checks.items():
            value = kwargs.get(arg_name)
            if value is not None:
                problem = check(value, path)
                if problem:
                    return problem
        return None

    return check_all


def _refusal(field: GraphQLField) -> Callable[[str, str], Any]:
    output = get_named_type(field.type)
    if isinstance(output, GraphQLUnionType) and any(t.name == "InvalidInputError" for t in output.types):
        return lambda message, path: invalid_input(message, path)

    def refuse(message: str, path: str) -> Any:
        raise BadUserInput(message, field=path)

    return refuse


def install_string_checks(schema: GraphQLSchema) -> int:
    """Wrap the resolver of every field that takes a String or ID anywhere in its arguments; returns how many."""
    wrapped = 0
    for type_ in schema.type_map.values():
        if type_.name.startswith("__") or not hasattr(type_, "fields") or isinstance(type_, GraphQLInputObjectType):
            continue
        for field in type_.fields.values():
            if not field.args or getattr(field.resolve, "_strings_checked", False):
                continue
            check = _arguments_check(field)
            if check is None:
                continue
            field.resolve = _checked(field.resolve, check, _refusal(field))
            wrapped += 1
    return wrapped


def _checked(resolve: Callable[..., Any] | None, check: Callable, refuse: Callable[[str, str], Any]) -> Callable[..., Any]:
    assert resolve is not None, "a field with arguments has a resolver"

    def resolver(source: Any, info: Any, **kwargs: Any) -> Any:
        problem = check(kwargs)
        if problem is not None:
            return refuse(*problem)
        return resolve(source, info, **kwargs)

    resolver._strings_checked = True  # type: ignore[attr-defined]
    return resolver
