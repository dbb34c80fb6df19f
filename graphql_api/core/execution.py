"""A shorter path through graphql-core's executor for fields that are plain attributes.

A loan detail is ~640 fields: ~380 leaves such as `amount`, `dueDate` or `number`, and objects
such as `Money`, an installment or a transaction whose selected fields are again such leaves and
objects, all read by strawberry with a getattr (a "basic" field: no resolver, no extension, no
permission). graphql-core still builds a Path, a GraphQLResolveInfo and a chain of completion calls
for each, which made field execution most of a loan-detail request's CPU once documents were cached.

`PlainFieldExecutor` completes such a field directly: a leaf is read and coerced, an object whose
whole selection is plain (no `is_type_of`, no arguments, no `__typename`, no @defer) becomes a dict
of its completed fields, and so does an object reached through a resolver (each installment of the
list a DataLoader returned). Anything else takes graphql-core's general path, and so does any field
whose shortcut does not end in a value (null in a non-null field, an exception, a coercion refusing
the value): nothing has been recorded by then, and running the general path again reports it
exactly as before, since reading attributes has no side effect. Per request the shortcut is off
when an extension hooks every resolver (strawberry turns those into graphql-core middleware, which
must see every field).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLLeafType, GraphQLObjectType, Undefined, is_leaf_type, is_non_null_type, is_object_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# How to read a field (strawberry's default resolver, getattr unless configured, and the attribute),
# its type without NonNull, and whether it may be null.
PlainField = tuple[Callable[[Any, str], Any], str, GraphQLLeafType | GraphQLObjectType, bool]
# A selection set of plain fields, worked out once per execution; for each field: its response name, how to
# read it (resolver, attribute), whether it may be null, and either how to coerce it (a leaf) or its own
# plain selection (an object).
PlainSelection = list[tuple[str, Callable[[Any, str], Any], str, bool, Callable[[Any], Any] | None, Any]]
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
        nullable = not is_non_null_type(field_def.type)
        output = field_def.type if nullable else field_def.type.of_type
        plain_output = is_leaf_type(output) or (is_object_type(output) and output.is_type_of is None)
        if isinstance(field, StrawberryField) and field.is_basic_field and plain_output:
            found = (field.default_resolver, field.python_name, output, nullable)
    _plain_fields[key] = found
    return found


class PlainFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plain_fields_direct = self.middleware_manager is None or not self.middleware_manager.middlewares
        # (object type, id of its field details) -> (those details, kept alive; the plain selection or None)
        self._plain_selections: dict[tuple[GraphQLObjectType, int], tuple[Any, PlainSelection | None]] = {}

    def execute_field(self, parent_type, source, field_details_list, path, position_context):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        if self.plain_fields_direct:
            node = field_details_list[0].node
            plain = None if node.arguments else plain_field(parent_type, node.name.value)
            if plain is not None and (is_leaf_type(plain[2]) or self.plain_selection(plain[2], field_details_list) is not None):
                value = self.plain_value(plain, field_details_list, source)
                if value is not _unfinished:
                    return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def collect_and_execute_subfields(self, return_type, field_details_list, path, result, position_context):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        # Objects reached through a resolver (a list of installments from a DataLoader) complete here.
        if self.plain_fields_direct:
            selection = self.plain_selection(return_type, field_details_list)
            if selection is not None:
                completed = self.plain_object(selection, result)
                if completed is not _unfinished:
                    return completed
        return super().collect_and_execute_subfields(return_type, field_details_list, path, result, position_context)

    def plain_selection(self, object_type: GraphQLObjectType, field_details_list: Any) -> PlainSelection | None:
        """The selection on this object type when every selected field is plain, its own selection too; else None.

        Depends on the document alone, so it is worked out once per selection and execution."""
        key = (object_type, id(field_details_list))
        cached = self._plain_selections.get(key)
        if cached is not None:
            return cached[1]
        selection: PlainSelection | None = []
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            selection = None
        else:
            for response_name, sub_details in grouped_field_set.items():
                node = sub_details[0].node
                plain = None if node.arguments else plain_field(object_type, node.name.value)
                if plain is None:
                    selection = None
                    break
                resolve, name, output, nullable = plain
                if is_leaf_type(output):
                    selection.append((response_name, resolve, name, nullable, output.coerce_output_value, None))
                    continue
                child = self.plain_selection(output, sub_details)
                if child is None:
                    selection = None
                    break
                selection.append((response_name, resolve, name, nullable, None, child))
        self._plain_selections[key] = (field_details_list, selection)
        return selection

    def plain_value(self, plain: PlainField, field_details_list: Any, source: Any) -> Any:
        """The completed value of a plain field, or `_unfinished` for anything the general path must report."""
        resolve, name, output, nullable = plain
        try:
            value = resolve(source, name)
            if value is None:
                return None if nullable else _unfinished
            if is_leaf_type(output):
                coerced = output.coerce_output_value(value)
                return _unfinished if coerced is None or coerced is Undefined else coerced
        except Exception:  # noqa: BLE001 - the general path reports it
            return _unfinished
        selection = self.plain_selection(output, field_details_list)
        return _unfinished if selection is None else self.plain_object(selection, value)

    def plain_object(self, selection: PlainSelection, source: Any) -> dict[str, Any] | object:
        """The selected fields of `source` as a dict, or `_unfinished` at the first one that does not end in a value."""
        completed: dict[str, Any] = {}
        try:
            for response_name, resolve, name, nullable, coerce, child in selection:
                value = resolve(source, name)
                if value is None:
                    if not nullable:
                        return _unfinished
                elif coerce is not None:
                    value = coerce(value)
                    if value is None or value is Undefined:
                        return _unfinished
                else:
                    value = self.plain_object(child, value)
                    if value is _unfinished:
                        return _unfinished
                completed[response_name] = value
        except Exception:  # noqa: BLE001 - the general path reports it
            return _unfinished
        return completed
