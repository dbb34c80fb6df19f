"""Maker-checker for manual journal entries, over HTTP: one person submits, another approves, then it posts.

Each scenario reads like the finance desk's day: Li (finance) submits an entry, Wang (finance, or an
admin) checks it; the journal, the trial balance and the audit log say exactly what happened.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from graphql_api.core.scalars import encode_id
from identity.model import Role
from tests.api.test_api_http import TRIAL_BALANCE, capital, entry_count, entry_input, leg, post

REQUEST_FIELDS = """
  id status effectiveDate description metadata idempotencyKey submittedBy decidedBy decisionReason
  postings { lineNo accountCode side amount { amount currency } }
  journalEntry { id actor postings { lineNo accountCode side amount { amount currency } } }
"""
REJECT = f"""mutation($i: RejectJournalEntryInput!) {{ rejectJournalEntry(input: $i) {{ __typename
  ... on RejectJournalEntryPayload {{ replayed request {{ {REQUEST_FIELDS} }} }}
  ... on Error {{ code message }} ... on UnknownJournalEntryRequestError {{ requestId }} ... on InvalidInputError {{ field }} }} }}"""
CANCEL = f"""mutation($i: CancelJournalEntryInput!) {{ cancelJournalEntry(input: $i) {{ __typename
  ... on CancelJournalEntryPayload {{ replayed request {{ {REQUEST_FIELDS} }} }} ... on Error {{ code message }} }} }}"""
APPROVE_FULL = f"""mutation($i: ApproveJournalEntryInput!) {{ approveJournalEntry(input: $i) {{ __typename
  ... on ApproveJournalEntryPayload {{ replayed request {{ {REQUEST_FIELDS} }} entry {{ id actor idempotencyKey }} }}
  ... on Error {{ code message }} ... on UnknownJournalEntryRequestError {{ requestId }} ... on IllegalTransitionError {{ status }}
  ... on AccountClosedError {{ accountCode }} }} }}"""
REQUEST = f"query($id: ID!) {{ journalEntryRequest(id: $id) {{ {REQUEST_FIELDS} }} }}"
QUEUE = """query($status: JournalEntryRequestStatus, $first: Int!, $after: String) {
  journalEntryRequests(status: $status, first: $first, after: $after) {
    edges { node { id status description } } pageInfo { hasNextPage endCursor } } }"""
AUDIT = "query($id: ID!) { auditEvents(entityId: $id, first: 10) { edges { node { action actor reason } } } }"

# Paid-in capital, then the interest income of January accrued by hand: two lines each, CNY.
ACCRUAL = entry_input(
    leg("1210", "DEBIT", "3.29"), leg("4100", "CREDIT", "3.29"),
    on="2026-01-31", description="January interest accrual, L-7", metadata={"loanId": "L-7"}, idempotencyKey="accrual-L-7-2026-01",
)


class FinanceDesk:
    """A tenant with two finance people (Li makes, Wang checks), an admin and an auditor."""

    def __init__(self, api) -> None:
        self.api = api
        self.books = api.tenant(Role.FINANCE, Role.ADMIN, Role.AUDITOR, Role.APPROVER)
        self.li = self.books.tokens[Role.FINANCE]
        self.wang = api.another_token(self.books, Role.FINANCE)
        self.admin = self.books.tokens[Role.ADMIN]
        self.auditor = self.books.tokens[Role.AUDITOR]

    def name(self, token: str) -> str:
        return self.api.graphql("{ me { actorName } }", token=token)["data"]["me"]["actorName"]

    def request(self, request_id: str, token: str | None = None) -> dict:
        return self.api.graphql(REQUEST, {"id": request_id}, token=token or self.auditor)["data"]["journalEntryRequest"]

    def run(self, document: str, data: dict, token: str) -> dict:
        body = self.api.graphql(document, {"i": data}, token=token)
        assert "errors" not in body, body
        return next(iter(body["data"].values()))

    def counts(self) -> tuple[int, int]:
        """(journal entries, audit events) of this tenant, straight from the database."""
        with self.api.engine.connect() as conn:
            entries = conn.execute(sa.text("SELECT count(*) FROM journal_entries WHERE tenant_id = :t"), {"t": self.books.id}).scalar()
            events = conn.execute(sa.text("SELECT count(*) FROM audit_events WHERE tenant_id = :t"), {"t": self.books.id}).scalar()
        return entries, events


def test_submitted_by_one_approved_by_another_posts_exactly_the_submitted_lines(api):
    desk = FinanceDesk(api)
    submitted = post(api, desk.li, ACCRUAL)
    assert submitted["__typename"] == "PostJournalEntryPayload" and submitted["entry"] is None
    request_id = submitted["request"]["id"]
    assert (submitted["request"]["status"], submitted["request"]["submittedBy"]) == ("PENDING", desk.name(desk.li))
    assert entry_count(api, desk.li) == 0, "nothing posts before the check"
    assert api.graphql(TRIAL_BALANCE, token=desk.li)["data"]["trialBalance"]["lines"] == []
    queue = api.graphql(QUEUE, {"status": "PENDING", "first": 10}, token=desk.wang)["data"]["journalEntryRequests"]["edges"]
    assert [edge["node"]["id"] for edge in queue] == [request_id]

    approved = desk.run(APPROVE_FULL, {"requestId": request_id, "idempotencyKey": "check-accrual-L-7"}, desk.wang)
    assert approved["__typename"] == "ApproveJournalEntryPayload" and approved["replayed"] is False
    request = approved["request"]
    lines = [
        {"lineNo": 1, "accountCode": "1210", "side": "DEBIT", "amount": {"amount": "3.29", "currency": "CNY"}},
        {"lineNo": 2, "accountCode": "4100", "side": "CREDIT", "amount": {"amount": "3.29", "currency": "CNY"}},
    ]
    assert request["status"] == "APPROVED" and request["decidedBy"] == desk.name(desk.wang)
    assert request["postings"] == lines and request["journalEntry"]["postings"] == lines
    assert request["metadata"] == {"loanId": "L-7"} and request["effectiveDate"] == "2026-01-31"
    # The entry is posted by its checker, under the maker's idempotency key.
    assert approved["entry"]["actor"] == desk.name(desk.wang)
    assert approved["entry"]["idempotencyKey"] == "accrual-L-7-2026-01"
    tb = api.graphql(TRIAL_BALANCE, {"asOf": "2026-01-31"}, token=desk.auditor)["data"]["trialBalance"]
    assert tb["balanced"] and [(line["account"]["code"], line["debit"]["amount"], line["credit"]["amount"]) for line in tb["lines"]] == [
        ("1210", "3.29", "0.00"), ("4100", "0.00", "3.29"),
    ]
    assert api.graphql(QUEUE, {"status": "PENDING", "first": 10}, token=desk.li)["data"]["journalEntryRequests"]["edges"] == []

    history = api.graphql(AUDIT, {"id": request_id}, token=desk.auditor)["data"]["auditEvents"]["edges"]
    assert [(e["node"]["action"], e["node"]["actor"]) for e in history] == [
        ("journal_entry_request.approved", desk.name(desk.wang)), ("journal_entry_request.submitted", desk.name(desk.li)),
    ]

    # The approval replays under its key; a second approval without it is an illegal transition.
    replay = desk.run(APPROVE_FULL, {"requestId": request_id, "idempotencyKey": "check-accrual-L-7"}, desk.wang)
    assert replay["replayed"] is True and replay["entry"]["id"] == approved["entry"]["id"]
    again = desk.run(APPROVE_FULL, {"requestId": request_id}, desk.admin)
    assert (again["__typename"], again["code"], again["status"]) == ("IllegalTransitionError", "ILLEGAL_TRANSITION", "APPROVED")
    assert entry_count(api, desk.li) == 1


def test_nobody_approves_their_own_entry_and_the_refusal_changes_nothing(api):
    desk = FinanceDesk(api)
    request_id = post(api, desk.li, capital())["request"]["id"]
    before = desk.counts()
    refused = desk.run(APPROVE_FULL, {"requestId": request_id}, desk.li)
    assert (refused["__typename"], refused["code"]) == ("MakerCheckerViolationError", "MAKER_CHECKER_VIOLATION")
    # The maker does not reject their own request either (they cancel it).
    self_reject = desk.run(REJECT, {"requestId": request_id, "reason": "changed my mind"}, desk.li)
    assert self_reject["code"] == "MAKER_CHECKER_VIOLATION"
    assert desk.counts() == before, "no entry, no audit event"
    assert desk.request(request_id)["status"] == "PENDING"

    # An admin is no exception: an admin's own entry needs someone else too.
    own = post(api, desk.admin, capital("1.00"))["request"]["id"]
    assert desk.run(APPROVE_FULL, {"requestId": own}, desk.admin)["code"] == "MAKER_CHECKER_VIOLATION"
    # Roles decide who may check at all: a credit approver is not a checker of the books.
    approver = api.graphql(APPROVE_FULL, {"i": {"requestId": own}}, token=desk.books.tokens[Role.APPROVER])
    assert approver["data"] is None and approver["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert desk.run(APPROVE_FULL, {"requestId": own}, desk.li)["request"]["status"] == "APPROVED"


def test_a_checker_rejects_with_a_reason_and_nothing_posts(api):
    desk = FinanceDesk(api)
    request_id = post(api, desk.li, ACCRUAL)["request"]["id"]
    no_reason = desk.run(REJECT, {"requestId": request_id, "reason": "  "}, desk.wang)
    assert (no_reason["__typename"], no_reason["field"]) == ("InvalidInputError", "reason")
    key = {"idempotencyKey": "reject-accrual-L-7"}
    rejected = desk.run(REJECT, {"requestId": request_id, "reason": "accrued by COB already", **key}, desk.wang)
    assert rejected["__typename"] == "RejectJournalEntryPayload" and rejected["replayed"] is False
    assert rejected["request"]["status"] == "REJECTED" and rejected["request"]["decisionReason"] == "accrued by COB already"
    assert rejected["request"]["journalEntry"] is None
    replay = desk.run(REJECT, {"requestId": request_id, "reason": "accrued by COB already", **key}, desk.wang)
    assert replay["replayed"] is True and replay["request"]["status"] == "REJECTED"
    conflict = desk.run(REJECT, {"requestId": request_id, "reason": "another reason", **key}, desk.wang)
    assert conflict["code"] == "IDEMPOTENCY_CONFLICT"
    too_late = desk.run(APPROVE_FULL, {"requestId": request_id}, desk.admin)
    assert (too_late["code"], too_late["status"]) == ("ILLEGAL_TRANSITION", "REJECTED")
    assert entry_count(api, desk.li) == 0
    # The maker's key stays with the rejected request: submitting it again is that request, not a new one.
    resubmitted = post(api, desk.li, ACCRUAL)
    assert resubmitted["replayed"] is True and resubmitted["request"] == {**resubmitted["request"], "id": request_id, "status": "REJECTED"}
    history = api.graphql(AUDIT, {"id": request_id}, token=desk.admin)["data"]["auditEvents"]["edges"]
    assert history[0]["node"] == {"action": "journal_entry_request.rejected", "actor": desk.name(desk.wang), "reason": "accrued by COB already"}


def test_only_the_maker_cancels_a_pending_request(api):
    desk = FinanceDesk(api)
    request_id = post(api, desk.li, capital())["request"]["id"]
    assert desk.run(CANCEL, {"requestId": request_id}, desk.wang)["code"] == "MAKER_CHECKER_VIOLATION"
    cancelled = desk.run(CANCEL, {"requestId": request_id, "reason": "typo in the amount", "idempotencyKey": "c-1"}, desk.li)
    assert cancelled["request"]["status"] == "CANCELLED" and cancelled["request"]["decidedBy"] == desk.name(desk.li)
    assert desk.run(CANCEL, {"requestId": request_id, "reason": "typo in the amount", "idempotencyKey": "c-1"}, desk.li)["replayed"] is True
    assert desk.run(APPROVE_FULL, {"requestId": request_id}, desk.wang)["code"] == "ILLEGAL_TRANSITION"
    statuses = api.graphql(QUEUE, {"status": "CANCELLED", "first": 5}, token=desk.auditor)["data"]["journalEntryRequests"]["edges"]
    assert [edge["node"]["id"] for edge in statuses] == [request_id]


def test_mistakes_are_refused_at_submission_and_an_account_closed_meanwhile_at_approval(api):
    desk = FinanceDesk(api)
    unbalanced = post(api, desk.li, entry_input(leg("1100", "DEBIT", "100.00"), leg("3100", "CREDIT", "99.99")))
    assert unbalanced["code"] == "UNBALANCED_ENTRY"
    unknown = post(api, desk.li, entry_input(leg("1100", "DEBIT", "5.00"), leg("9999", "CREDIT", "5.00")))
    assert (unknown["__typename"], unknown["accountCode"]) == ("UnknownAccountError", "9999")
    assert api.graphql(QUEUE, {"first": 10}, token=desk.li)["data"]["journalEntryRequests"]["edges"] == []

    request_id = post(api, desk.li, entry_input(leg("1100", "DEBIT", "5.00"), leg("4400", "CREDIT", "5.00")))["request"]["id"]
    with api.engine.begin() as conn:  # the recoveries account is closed after the submission
        conn.execute(sa.text("UPDATE accounts SET status = 'CLOSED' WHERE tenant_id = :t AND code = '4400'"), {"t": desk.books.id})
    before = desk.counts()
    refused = desk.run(APPROVE_FULL, {"requestId": request_id}, desk.wang)
    assert (refused["__typename"], refused["accountCode"]) == ("AccountClosedError", "4400")
    assert desk.counts() == before and desk.request(request_id)["status"] == "PENDING"


def test_another_tenants_request_reads_and_decides_as_unknown(api):
    ours, theirs = FinanceDesk(api), FinanceDesk(api)
    request_id = post(api, ours.li, capital())["request"]["id"]
    assert theirs.request(request_id, theirs.admin) is None
    assert api.graphql(QUEUE, {"first": 10}, token=theirs.admin)["data"]["journalEntryRequests"]["edges"] == []
    nowhere = encode_id("JournalEntryRequest", uuid.uuid4())
    for probe in (request_id, nowhere):
        for document, extra in ((APPROVE_FULL, {}), (REJECT, {"reason": "probe"}), (CANCEL, {})):
            refused = theirs.run(document, {"requestId": probe, **extra}, theirs.wang)
            assert (refused["__typename"], refused["code"]) == ("UnknownJournalEntryRequestError", "UNKNOWN_JOURNAL_ENTRY_REQUEST")
    assert ours.request(request_id)["status"] == "PENDING"
    malformed = theirs.run(REJECT, {"requestId": "not-an-id", "reason": "probe"}, theirs.wang)
    assert (malformed["__typename"], malformed["field"]) == ("InvalidInputError", "requestId")


def test_the_queue_pages_newest_first(api):
    desk = FinanceDesk(api)
    ids = [post(api, desk.li, capital(f"{n}.00", on=f"2026-02-0{n}"))["request"]["id"] for n in range(1, 6)]
    seen, after = [], None
    while True:
        page = api.graphql(QUEUE, {"status": "PENDING", "first": 2, "after": after}, token=desk.wang)["data"]["journalEntryRequests"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids[::-1]
    bad = api.graphql(QUEUE, {"first": 101}, token=desk.wang)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
