"""A shorter path through graphql-core's executor for leaves that are plain attributes.

A loan detail is ~640 fields, ~380 of them leaves such as `amount`, `dueDate` or `number` and ~220
of them `Money` objects whose selected fields are such leaves, all of which strawberry resolves
with a getattr (a "basic" field: no resolver, no extension, no permission). graphql-core still
builds a Path, a GraphQLResolveInfo and a chain of completion calls for each, which made field
execution most of a loan-detail request's CPU once documents were cached.

`PlainFieldExecutor` reads such a leaf and coerces it directly, and completes such an object (no
`is_type_of`, every selected field a plain leaf) as a dict of those leaves. Anything else takes
graphql-core's general path, and so does any field whose shortcut does not end in a value (null, an
exception, a coercion refusing the value): nothing has been recorded by then, and running the
general path again reports it exactly as before, since reading attributes has no side effect. Per
request the shortcut is off when an extension hooks every resolver (strawberry turns those into
graphql-core middleware, which must see every field).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLLeafType, GraphQLObjectType, Undefined, is_leaf_type, is_non_null_type, is_object_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# How to read the field (strawberry's default resolver, getattr unless configured, and the attribute) and its type.
PlainField = tuple[Callable[[Any, str], Any], str, GraphQLLeafType | GraphQLObjectType]
# (parent type, field name) -> how to read it, or None for the general path; bounded by the schema's size.
_plain_fields: dict[tuple[GraphQLObjectType, str], PlainField | None] = {}
_unfinished = object()


def plain_field(parent_type: GraphQLObjectType, field_name: str) -> PlainField | None:
    """A basic strawberry field whose type is a leaf, or an object type without `is_type_of`; else None."""
    key = (parent_type, field_name)
    try:
        return _plain_fields[key]
    except KeyError:
        pass
    found = None
    field_def = parent_type.fields.get(field_name)
    if field_def is not None and getattr(field_def.resolve, "_is_default", False):
        field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        output = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
        plain_output = is_leaf_type(output) or (is_object_type(output) and output.is_type_of is None)
        if isinstance(field, StrawberryField) and field.is_basic_field and plain_output:
            found = (field.default_resolver, field.python_name, output)
    _plain_fields[key] = found
    return found


def leaf_value(plain: PlainField, source: Any) -> Any:
    """The coerced value of a plain leaf, or `_unfinished` for anything the general path must report."""
    resolve, name, output = plain
    try:
        value = resolve(source, name)
        if value is None:
            return _unfinished
        coerced = output.coerce_output_value(value)
    except Exception:  # noqa: BLE001 - the general path reports it
        return _unfinished
    return _unfinished if coerced is None or coerced is Undefined else coerced


class PlainFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plain_fields_direct = self.middleware_manager is None or not self.middleware_manager.middlewares

    def execute_field(self, parent_type, source, field_details_list, path, position_context):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        if self.plain_fields_direct:
            node = field_details_list[0].node
            plain = None if node.arguments else plain_field(parent_type, node.name.value)
            if plain is not None:
                if is_leaf_type(plain[2]):
                    value = leaf_value(plain, source)
                else:
                    value = self.plain_object(plain, source, field_details_list)
                if value is not _unfinished:
                    return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def plain_object(self, plain: PlainField, source: Any, field_details_list: Any) -> dict[str, Any] | object:
        """The object's selected fields as a dict when each is a plain leaf with a value; else `_unfinished`."""
        resolve, name, output = plain
        try:
            value = resolve(source, name)
        except Exception:  # noqa: BLE001 - the general path reports it
            return _unfinished
        if value is None:
            return _unfinished
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(output, field_details_list)
        if new_defer_usages:
            return _unfinished
        completed: dict[str, Any] = {}
        for response_name, sub_details in grouped_field_set.items():
            node = sub_details[0].node
            leaf = None if node.arguments else plain_field(output, node.name.value)
            if leaf is None or not is_leaf_type(leaf[2]):
                return _unfinished
            completed[response_name] = leaf_value(leaf, value)
            if completed[response_name] is _unfinished:
                return _unfinished
        return completed
