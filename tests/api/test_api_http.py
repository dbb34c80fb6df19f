"""End-to-end over HTTP against `loanbook serve` (uvicorn in a subprocess), on SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import datetime as dt
import re

import sqlalchemy as sa

from identity import service as identity_service
from identity.model import Role
from ledger.unit_of_work import run_in_transaction

POST = """
mutation Post($input: PostJournalEntryInput!) {
  postJournalEntry(input: $input) {
    __typename
    ... on PostJournalEntryPayload {
      replayed
      request { id status submittedBy }
      entry { id effectiveDate description actor idempotencyKey
              postings { lineNo accountCode side amount { amount currency } } }
    }
    ... on Error { code message }
    ... on UnbalancedEntryError { imbalances { amount currency } }
    ... on AmountTooPreciseError { field currency }
    ... on UnknownCurrencyError { field currency }
    ... on FloatAmountRefusedError { field }
    ... on UnknownAccountError { accountCode }
  }
}"""

REVERSE = """
mutation Reverse($input: ReverseJournalEntryInput!) {
  reverseJournalEntry(input: $input) {
    __typename
    ... on ReverseJournalEntryPayload { entry { id reverses { id } postings { side accountCode } }
                                        reversedEntry { id reversedBy { id } } }
    ... on Error { code message }
    ... on InvalidInputError { field }
    ... on UnknownEntryError { entryId }
  }
}"""

TRIAL_BALANCE = """
query TrialBalance($asOf: Date) {
  trialBalance(asOf: $asOf) {
    balanced
    lines { account { code } currency debit { amount } credit { amount } }
    totals { currency debit { amount } credit { amount } }
  }
}"""

ENTRY = "query Entry($id: ID!) { journalEntry(id: $id) { id description postings { accountCode amount { amount } } } }"
ENTRY_IDS = """
query Entries($first: Int!, $after: String, $accountCode: String, $dateFrom: Date, $dateTo: Date) {
  journalEntries(first: $first, after: $after, accountCode: $accountCode, dateFrom: $dateFrom, dateTo: $dateTo) {
    edges { cursor node { id description } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


def leg(account: str, side: str, amount: str, currency: str = "CNY") -> dict:
    return {"accountCode": account, "side": side, "amount": amount, "currency": currency}


def entry_input(*postings: dict, on: str = "2026-01-05", description: str = "", **extra: object) -> dict:
    return {"effectiveDate": on, "description": description, "postings": list(postings), **extra}


def capital(amount: str = "100000.00", **extra: object) -> dict:
    """The owners pay in capital: Dr bank, Cr paid-in capital."""
    return entry_input(leg("1100", "DEBIT", amount), leg("3100", "CREDIT", amount), description="capital paid in", **extra)


APPROVE = """
mutation Approve($input: ApproveJournalEntryInput!) {
  approveJournalEntry(input: $input) {
    __typename
    ... on ApproveJournalEntryPayload { replayed request { id status decidedBy }
      entry { id effectiveDate description actor idempotencyKey postings { lineNo accountCode side amount { amount currency } } } }
    ... on Error { code message }
  }
}"""


def post(api, token: str, data: dict) -> dict:
    """Submit a manual entry: a PENDING request (maker-checker)."""
    return api.graphql(POST, {"input": data}, token=token)["data"]["postJournalEntry"]


def approve(api, token: str, request_id: str, **extra: object) -> dict:
    return api.graphql(APPROVE, {"input": {"requestId": request_id, **extra}}, token=token)["data"]["approveJournalEntry"]


def posted(api, maker: str, checker: str, data: dict) -> dict:
    """Submit as the maker, approve as the checker: the approval payload, entry included."""
    submitted = post(api, maker, data)
    assert submitted["__typename"] == "PostJournalEntryPayload" and submitted["request"]["status"] == "PENDING", submitted
    approved = approve(api, checker, submitted["request"]["id"])
    assert approved["__typename"] == "ApproveJournalEntryPayload", approved
    return approved


def entry_count(api, token: str) -> int:
    return len(api.graphql(ENTRY_IDS, {"first": 100}, token=token)["data"]["journalEntries"]["edges"])


def error_codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def test_health_is_open(api):
    health = api.client.get(f"{api.base_url}/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["database"] == "ok"
    assert api.graphql("{ health { status database } }") == {"data": {"health": {"status": "ok", "database": "ok"}}}


def test_a_disbursement_shows_in_the_trial_balance(api):
    books = api.tenant(Role.FINANCE)
    token, checker = books.tokens[Role.FINANCE], api.another_token(books, Role.FINANCE)
    assert posted(api, token, checker, capital())["request"]["status"] == "APPROVED"
    # Disburse a 10,000.00 loan on 6 January: Dr loans receivable, Cr bank.
    disbursed = posted(api, token, checker, entry_input(
        leg("1200", "DEBIT", "10000.00"), leg("1100", "CREDIT", "10000.00"),
        on="2026-01-06", description="disburse L-1", metadata={"loanId": "L-1"},
    ))
    assert disbursed["entry"]["postings"] == [
        {"lineNo": 1, "accountCode": "1200", "side": "DEBIT", "amount": {"amount": "10000.00", "currency": "CNY"}},
        {"lineNo": 2, "accountCode": "1100", "side": "CREDIT", "amount": {"amount": "10000.00", "currency": "CNY"}},
    ]
    assert disbursed["entry"]["actor"].startswith("finance-")

    tb = api.graphql(TRIAL_BALANCE, token=token)["data"]["trialBalance"]
    assert tb["balanced"] is True
    assert tb["lines"] == [
        {"account": {"code": "1100"}, "currency": "CNY", "debit": {"amount": "90000.00"}, "credit": {"amount": "0.00"}},
        {"account": {"code": "1200"}, "currency": "CNY", "debit": {"amount": "10000.00"}, "credit": {"amount": "0.00"}},
        {"account": {"code": "3100"}, "currency": "CNY", "debit": {"amount": "0.00"}, "credit": {"amount": "100000.00"}},
    ]
    assert tb["totals"] == [{"currency": "CNY", "debit": {"amount": "100000.00"}, "credit": {"amount": "100000.00"}}]
    before_disbursement = api.graphql(TRIAL_BALANCE, {"asOf": "2026-01-05"}, token=token)["data"]["trialBalance"]
    assert [line["account"]["code"] for line in before_disbursement["lines"]] == ["1100", "3100"]

    read_back = api.graphql(ENTRY, {"id": disbursed["entry"]["id"]}, token=token)["data"]["journalEntry"]
    assert read_back["description"] == "disburse L-1"
    balances = api.graphql('{ account(code: "1100") { normalBalance balances { balance { amount currency } } } }', token=token)
    assert balances["data"]["account"] == {"normalBalance": "DEBIT", "balances": [{"balance": {"amount": "90000.00", "currency": "CNY"}}]}


def test_bad_input_comes_back_as_typed_errors_and_writes_nothing(api):
    token = api.tenant(Role.ADMIN).tokens[Role.ADMIN]
    unbalanced = post(api, token, entry_input(leg("1100", "DEBIT", "100.00"), leg("3100", "CREDIT", "99.99")))
    assert unbalanced["__typename"] == "UnbalancedEntryError" and unbalanced["code"] == "UNBALANCED_ENTRY"
    assert unbalanced["imbalances"] == [{"amount": "0.01", "currency": "CNY"}]

    too_precise = post(api, token, entry_input(leg("1100", "DEBIT", "1.005"), leg("3100", "CREDIT", "1.005")))
    assert (too_precise["__typename"], too_precise["field"], too_precise["currency"]) == ("AmountTooPreciseError", "postings[0].amount", "CNY")

    unknown_account = post(api, token, entry_input(leg("1100", "DEBIT", "5.00"), leg("9999", "CREDIT", "5.00")))
    assert (unknown_account["__typename"], unknown_account["accountCode"]) == ("UnknownAccountError", "9999")

    unknown_currency = post(api, token, entry_input(leg("1100", "DEBIT", "5", "XYZ"), leg("3100", "CREDIT", "5", "XYZ")))
    assert (unknown_currency["__typename"], unknown_currency["field"]) == ("UnknownCurrencyError", "postings[0].currency")

    one_leg = post(api, token, entry_input(leg("1100", "DEBIT", "5.00")))
    assert one_leg["code"] == "TOO_FEW_POSTINGS"

    float_metadata = post(api, token, capital(metadata={"rate": 0.05}))
    assert (float_metadata["__typename"], float_metadata["field"]) == ("FloatAmountRefusedError", "metadata")

    # A JSON number where a decimal string belongs is refused before anything runs: in variables...
    as_number = api.graphql(POST, {"input": entry_input(leg("1100", "DEBIT", 10.1), leg("3100", "CREDIT", "10.10"))}, token=token)
    assert as_number["data"] is None and error_codes(as_number) == ["BAD_USER_INPUT"]
    assert "not a JSON number" in as_number["errors"][0]["message"]
    as_integer = api.graphql(POST, {"input": entry_input(leg("1100", "DEBIT", 10), leg("3100", "CREDIT", "10"))}, token=token)
    assert error_codes(as_integer) == ["BAD_USER_INPUT"]
    # ...and as a literal in the document.
    literal = api.graphql(
        'mutation { postJournalEntry(input: {effectiveDate: "2026-01-05", postings: ['
        '{accountCode: "1100", side: DEBIT, amount: 10.10, currency: "CNY"}, '
        '{accountCode: "3100", side: CREDIT, amount: "10.10", currency: "CNY"}]}) { __typename } }',
        token=token,
    )
    assert literal["data"] is None and "not a JSON number" in literal["errors"][0]["message"]
    assert entry_count(api, token) == 0


def test_an_idempotent_replay_returns_the_original_request_and_then_its_entry(api):
    books = api.tenant(Role.FINANCE)
    token, checker = books.tokens[Role.FINANCE], api.another_token(books, Role.FINANCE)
    first = post(api, token, capital(idempotencyKey="capital-2026-01"))
    again = post(api, token, capital(idempotencyKey="capital-2026-01"))
    assert again["__typename"] == "PostJournalEntryPayload" and again["request"]["id"] == first["request"]["id"]
    assert (first["replayed"], again["replayed"], again["entry"]) == (False, True, None)
    conflict = post(api, token, capital("5.00", idempotencyKey="capital-2026-01"))
    assert conflict["__typename"] == "IdempotencyConflictError" and conflict["code"] == "IDEMPOTENCY_CONFLICT"
    entry = approve(api, checker, first["request"]["id"])["entry"]
    assert entry["idempotencyKey"] == "capital-2026-01", "the posted entry carries the maker's key"
    after_approval = post(api, token, capital(idempotencyKey="capital-2026-01"))
    assert after_approval["request"]["status"] == "APPROVED" and after_approval["entry"]["id"] == entry["id"]
    assert entry_count(api, token) == 1


def test_a_reversal_mirrors_the_entry_once(api):
    books = api.tenant(Role.ADMIN)
    token = books.tokens[Role.ADMIN]
    original = posted(api, token, api.another_token(books, Role.ADMIN), capital())["entry"]["id"]
    reverse = {"entryId": original, "effectiveDate": "2026-01-07", "reason": "posted twice by mistake", "idempotencyKey": "r-1"}
    reversed_ = api.graphql(REVERSE, {"input": reverse}, token=token)["data"]["reverseJournalEntry"]
    assert reversed_["__typename"] == "ReverseJournalEntryPayload"
    assert reversed_["entry"]["reverses"] == {"id": original}
    assert [p["side"] for p in reversed_["entry"]["postings"]] == ["CREDIT", "DEBIT"]
    assert reversed_["reversedEntry"] == {"id": original, "reversedBy": {"id": reversed_["entry"]["id"]}}

    replay = api.graphql(REVERSE, {"input": reverse}, token=token)["data"]["reverseJournalEntry"]
    assert replay["__typename"] == "ReverseJournalEntryPayload" and replay["entry"]["id"] == reversed_["entry"]["id"]
    twice = api.graphql(REVERSE, {"input": {**reverse, "idempotencyKey": None}}, token=token)["data"]["reverseJournalEntry"]
    assert twice["__typename"] == "AlreadyReversedError" and original in twice["message"]
    assert api.graphql(TRIAL_BALANCE, token=token)["data"]["trialBalance"]["lines"] == []

    malformed = api.graphql(REVERSE, {"input": {**reverse, "entryId": "not-an-id"}}, token=token)["data"]["reverseJournalEntry"]
    assert (malformed["__typename"], malformed["field"]) == ("InvalidInputError", "entryId")


def test_another_tenant_cannot_see_or_touch_an_entry_even_with_its_id(api):
    books_a = api.tenant(Role.ADMIN)
    token_a = books_a.tokens[Role.ADMIN]
    token_b = api.tenant(Role.ADMIN).tokens[Role.ADMIN]
    entry_id = posted(api, token_a, api.another_token(books_a, Role.ADMIN), capital())["entry"]["id"]
    assert not re.fullmatch(r"[0-9a-f-]{36}", entry_id), "ids are opaque, not bare UUIDs"

    assert api.graphql(ENTRY, {"id": entry_id}, token=token_b) == {"data": {"journalEntry": None}}
    assert entry_count(api, token_b) == 0
    assert api.graphql(TRIAL_BALANCE, token=token_b)["data"]["trialBalance"]["lines"] == []
    probe = {"entryId": entry_id, "effectiveDate": "2026-01-07", "reason": "probe"}
    refused = api.graphql(REVERSE, {"input": probe}, token=token_b)["data"]["reverseJournalEntry"]
    # Reported exactly like an id that exists nowhere: no hint that another tenant has it.
    assert (refused["__typename"], refused["code"]) == ("UnknownEntryError", "UNKNOWN_ENTRY")
    assert api.graphql(ENTRY, {"id": entry_id}, token=token_a)["data"]["journalEntry"]["id"] == entry_id

    # A forged id of another kind, or a bare UUID, is refused as malformed.
    uuid_text = base64.urlsafe_b64decode(entry_id + "==").decode().split(":", 1)[1]
    forged = base64.urlsafe_b64encode(f"Account:{uuid_text}".encode()).decode().rstrip("=")
    for bad in (forged, uuid_text):
        assert error_codes(api.graphql(ENTRY, {"id": bad}, token=token_b)) == ["BAD_USER_INPUT"]


def test_an_auditor_reads_everything_and_posts_nothing(api):
    books = api.tenant(Role.ADMIN, Role.FINANCE, Role.AUDITOR)
    posted(api, books.tokens[Role.ADMIN], books.tokens[Role.FINANCE], capital())
    refused = api.graphql(POST, {"input": capital("1.00")}, token=books.tokens[Role.AUDITOR])
    assert refused["data"] is None and error_codes(refused) == ["FORBIDDEN"]
    assert entry_count(api, books.tokens[Role.AUDITOR]) == 1
    assert api.graphql(TRIAL_BALANCE, token=books.tokens[Role.AUDITOR])["data"]["trialBalance"]["balanced"] is True


def test_requests_without_a_valid_token_are_refused(api):
    books = api.tenant(Role.ADMIN)
    token = books.tokens[Role.ADMIN]
    now = dt.datetime.now(dt.timezone.utc)
    run_in_transaction(api.engine, lambda c: identity_service.revoke_token(c, token, actor_name="test", now=now))
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer lb_not-a-real-token-at-all-0000000000000000"}, {"Authorization": f"Bearer {token}"}):
        body = api.graphql("{ me { role } }", **headers)
        assert body["data"] is None and error_codes(body) == ["UNAUTHENTICATED"], headers
    body = api.graphql(POST, {"input": capital()}, Authorization=f"Bearer {token}")
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_unexpected_errors_are_masked(api):
    books = api.tenant(Role.ADMIN)
    # Corrupt the tenant's chart behind the application's back: reading it now fails inside the server.
    with api.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO accounts (tenant_id, code, name, type, normal_balance, status, balance_slots, created_at) "
            "VALUES (:t, 'X-CORRUPT', 'corrupt', 'SECRETSTATE', 'DEBIT', 'OPEN', 1, CURRENT_TIMESTAMP)"
        ), {"t": books.id})
    response = api.post({"query": "{ accounts { edges { node { code } } } }"}, token=books.tokens[Role.ADMIN])
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"] == [{
        "message": "Unexpected error.", "locations": [{"line": 1, "column": 3}], "path": ["accounts"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }]
    for leak in ("SECRETSTATE", "Traceback", "ValueError", "SELECT", "accounts.py"):
        assert leak not in response.text
    assert "SECRETSTATE" in api.server_log(), "the server log keeps what the client does not see"


def test_pages_walk_every_entry_once(api):
    books = api.tenant(Role.FINANCE)
    token, checker = books.tokens[Role.FINANCE], api.another_token(books, Role.FINANCE)
    for day in range(1, 6):
        posted(api, token, checker, capital(f"{day}.00", on=f"2026-02-0{day}"))
    seen, after, pages = [], None, 0
    while True:
        page = api.graphql(ENTRY_IDS, {"first": 2, "after": after}, token=token)["data"]["journalEntries"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3 and len(seen) == len(set(seen)) == 5
    window = api.graphql(ENTRY_IDS, {"first": 10, "dateFrom": "2026-02-02", "dateTo": "2026-02-03"}, token=token)
    assert len(window["data"]["journalEntries"]["edges"]) == 2
    assert len(api.graphql(ENTRY_IDS, {"first": 10, "accountCode": "1200"}, token=token)["data"]["journalEntries"]["edges"]) == 0
    assert error_codes(api.graphql(ENTRY_IDS, {"first": 101}, token=token)) == ["BAD_USER_INPUT"]
    assert error_codes(api.graphql(ENTRY_IDS, {"first": 2, "after": "bm90IGEgY3Vyc29y"}, token=token)) == ["BAD_USER_INPUT"]


def test_hostile_documents_are_refused(api):
    token = api.tenant(Role.AUDITOR).tokens[Role.AUDITOR]
    deep = "{ journalEntries { edges { node { " + "reverses { " * 12 + "id" + " }" * 12 + " } } } }"
    assert error_codes(api.graphql(deep, token=token)) == ["GRAPHQL_VALIDATION_FAILED"]
    aliases = "{ " + " ".join(f"a{i}: me {{ role }}" for i in range(31)) + " }"
    assert error_codes(api.graphql(aliases, token=token)) == ["GRAPHQL_VALIDATION_FAILED"]
    tokens = "{ me { " + " ".join(["role"] * 3001) + " } }"
    assert error_codes(api.graphql(tokens, token=token))[0] == "GRAPHQL_VALIDATION_FAILED"
    too_big = api.post({"query": "{ me { role } }", "variables": {"pad": "x" * (1024 * 1024)}}, token=token)
    assert too_big.status_code == 413


def test_serve_creates_a_demo_tenant_and_prints_its_admin_token_once(sqlite_api_server):
    printed = re.findall(r"LOANBOOK_TOKEN=(\S+)", sqlite_api_server.stdout_path.read_text())
    assert len(printed) == 1
    me = sqlite_api_server.graphql("{ me { tenant { slug } role actorName } }", token=printed[0])
    assert me == {"data": {"me": {"tenant": {"slug": "demo"}, "role": "ADMIN", "actorName": "demo-admin"}}}
    with sqlite_api_server.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash, token_prefix FROM api_tokens")).all()
    assert printed[0] not in {value for row in stored for value in row}, "only the hash is stored"
