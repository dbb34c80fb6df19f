"""The schema itself, in-process: SDL freshness, the permission matrix, error coverage, scalars, masking."""
from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from graphql import GraphQLError

import graphql_api
from graphql_api.core import error_types
from graphql_api.core.errors import BadUserInput, should_mask_error
from graphql_api.core.permissions import open_operations, operation_roles
from graphql_api.core.scalars import decode_cursor, decode_id, encode_cursor, encode_id, parse_decimal_text
from graphql_api.schema import schema
from ledger import errors as ledger_errors
from loans import errors as loan_errors

sdl_path = Path(graphql_api.__file__).parent / "schema.graphql"


def test_the_committed_sdl_is_fresh():
    committed = sdl_path.read_text()
    assert committed == schema.as_str() + "\n", "graphql_api/schema.graphql is stale: run `make sdl` and commit it"


def test_every_root_field_has_a_permission_decision():
    graphql_schema = schema._schema
    roots = set(graphql_schema.query_type.fields) | set(graphql_schema.mutation_type.fields)
    assert roots - open_operations - set(operation_roles) == set(), "a root field without a permission decision"
    assert set(operation_roles) - roots == set(), "a permission for a field that does not exist"
    assert not open_operations & set(operation_roles)


def every_subclass(cls: type) -> set[type]:
    return {cls} | {sub for direct in cls.__subclasses__() for sub in every_subclass(direct)}


def test_every_ledger_and_loan_error_code_maps_to_a_typed_error():
    # The schema imports every module that raises them (loans.money, .suspense, .replay, .restructuring, .cob).
    codes = {cls.code for cls in every_subclass(ledger_errors.LedgerError)}
    assert codes == set(error_types.error_type_by_code)
    for error_type in set(error_types.error_type_by_code.values()):
        assert schema.get_type_by_name(error_type.__strawberry_definition__.name) is not None


def test_a_cross_tenant_reference_reads_as_an_unknown_entry():
    entry_id = uuid.uuid4()
    result = error_types.error_result(
        ledger_errors.CrossTenantReference(f"entry {entry_id} does not belong to this tenant", entry=str(entry_id)),
        (error_types.UnknownEntryError, error_types.GenericError),
    )
    assert isinstance(result, error_types.UnknownEntryError) and result.code == "UNKNOWN_ENTRY"
    assert str(entry_id) not in result.message and result.entry_id == encode_id("JournalEntry", entry_id)


def test_loan_errors_name_loans_by_opaque_id_and_fields_as_the_input_does():
    loan_id, other = uuid.uuid4(), uuid.uuid4()
    unknown = error_types.error_result(
        loan_errors.UnknownLoan(f"no loan with id {loan_id}", loan=str(loan_id)), (error_types.UnknownLoanError,), ids={loan_id: "Loan"},
    )
    assert unknown.loan_id == encode_id("Loan", loan_id) and str(loan_id) not in unknown.message
    assert encode_id("Loan", loan_id) in unknown.message
    late = error_types.error_result(
        loan_errors.DateAfterBusinessDate(f"{other} too late", field="date"), (error_types.DateAfterBusinessDateError,),
        id_kind="LoanTransaction", fields={"date": "effectiveDate"},
    )
    assert late.field == "effectiveDate" and encode_id("LoanTransaction", other) in late.message
    product = error_types.error_result(loan_errors.InvalidProduct("bad", field="gl_accounts"), (error_types.InvalidProductError,))
    assert product.field == "glAccounts"


def test_an_error_outside_the_union_keeps_its_code_as_a_generic_error():
    result = error_types.error_result(ledger_errors.TenantExists("taken"), (error_types.GenericError,))
    assert type(result) is error_types.GenericError and result.code == "TENANT_EXISTS"


@pytest.mark.parametrize("text, expected", [("0", "0"), ("1234.50", "1234.50"), ("-0.01", "-0.01"), ("0.049", "0.049")])
def test_decimal_strings_are_exact(text, expected):
    assert str(parse_decimal_text(text)) == expected


@pytest.mark.parametrize("value", [1.5, 10, True, None, "1e3", "NaN", "Infinity", " 1", "1.", ".5", "+1", "1,000.00", "9" * 65])
def test_anything_but_a_plain_decimal_string_is_refused(value):
    with pytest.raises(BadUserInput):
        parse_decimal_text(value)


def test_json_numbers_are_refused_as_literals_and_variables():
    query = 'mutation($a: Decimal!) { postJournalEntry(input: {effectiveDate: "2026-01-01", postings: [' \
            '{accountCode: "1100", side: DEBIT, amount: $a, currency: "CNY"}]}) { __typename } }'
    as_variable = schema.execute_sync(query, variable_values={"a": 12.5})
    assert as_variable.data is None and "not a JSON number" in as_variable.errors[0].message
    literal = schema.execute_sync(query.replace("($a: Decimal!)", "").replace("$a", "12.5"))
    assert literal.data is None and "not a JSON number" in literal.errors[0].message


def test_ids_and_cursors_are_opaque_and_checked():
    entry_id = uuid.uuid4()
    assert decode_id("JournalEntry", encode_id("JournalEntry", entry_id)) == entry_id
    for bad in (str(entry_id), encode_id("Account", entry_id), "", "%%%", "x" * 500):
        with pytest.raises(BadUserInput):
            decode_id("JournalEntry", bad)
    assert decode_cursor("Account", encode_cursor("Account", "1100"), 1) == ["1100"]
    with pytest.raises(BadUserInput):
        decode_cursor("JournalEntry", encode_cursor("Account", "1100"), 2)


def test_only_client_and_document_errors_escape_the_mask():
    assert should_mask_error(GraphQLError("boom", original_error=RuntimeError("SELECT secret"), path=["x"]))
    assert should_mask_error(GraphQLError("bad", original_error=ValueError("internal"), path=["x"]))
    assert not should_mask_error(GraphQLError("bad", original_error=BadUserInput("first is too large"), path=["x"]))
    assert not should_mask_error(GraphQLError("Cannot query field 'nope' on type 'Query'."))
    assert not should_mask_error(GraphQLError("Variable '$d' got invalid value", original_error=ValueError("Invalid isoformat")))


def test_amounts_travel_with_the_currency_decimals():
    from graphql_api.core.types import money

    assert (money(100000, "CNY").amount, money(5, "JPY").amount, money(1, "KWD").amount) == (
        Decimal("1000.00"), Decimal("5"), Decimal("0.001"),
    )
