"""runCloseOfBusiness as a background job over HTTP: start it, poll it, one at a time, replays and tenants."""
from __future__ import annotations

import datetime as dt
import time
import uuid

import sqlalchemy as sa

from graphql_api.core.scalars import encode_id
from identity.model import Role
from tests.api.lending import DISBURSED_ON, Desk

RUN_FIELDS = "id businessDate status finished requestedBy loansTotal loansProcessed entriesPosted alreadyDone resumed loanErrors errorCode"
RUN_COB = f"""mutation($i: RunCloseOfBusinessInput!) {{ runCloseOfBusiness(input: $i) {{ __typename
  ... on RunCloseOfBusinessPayload {{ businessDate loansProcessed entriesPosted alreadyDone errors replayed run {{ {RUN_FIELDS} }} }}
  ... on Error {{ code message }} ... on CobAlreadyRunningError {{ runId }} }} }}"""
RUN = f"query($id: ID!) {{ closeOfBusinessRun(id: $id) {{ {RUN_FIELDS} }} }}"
RUNS = "query($after: String) { closeOfBusinessRuns(first: 1, after: $after) { edges { node { id businessDate } } pageInfo { hasNextPage endCursor } } }"
poll_seconds_max = 30


def start(api, token: str, day: str, **extra: object) -> dict:
    body = api.graphql(RUN_COB, {"i": {"businessDate": day, **extra}}, token=token)
    assert "errors" not in body, body
    return body["data"]["runCloseOfBusiness"]


def finished(api, token: str, run_id: str) -> dict:
    deadline = time.monotonic() + poll_seconds_max
    while True:
        run = api.graphql(RUN, {"id": run_id}, token=token)["data"]["closeOfBusinessRun"]
        if run["finished"]:
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def test_a_run_started_without_waiting_is_polled_to_its_end(api):
    desk = Desk(api)
    finance, auditor = desk.tokens[Role.FINANCE], desk.tokens[Role.AUDITOR]
    desk.active()
    started = start(api, finance, "2026-01-16", wait=False, idempotencyKey="cob-2026-01-16")
    assert started["__typename"] == "RunCloseOfBusinessPayload" and started["replayed"] is False
    # Answered at once: the run is queued (or already running); the summary is not known yet.
    assert started["run"]["status"] in ("QUEUED", "RUNNING", "SUCCEEDED")
    if started["run"]["status"] != "SUCCEEDED":
        assert started["loansProcessed"] is None and started["errors"] is None
    run = finished(api, auditor, started["run"]["id"])
    assert run == {
        "id": started["run"]["id"], "businessDate": "2026-01-16", "status": "SUCCEEDED", "finished": True,
        "requestedBy": run["requestedBy"], "loansTotal": 1, "loansProcessed": 1, "entriesPosted": 1, "alreadyDone": False,
        "resumed": False, "loanErrors": [], "errorCode": None,
    }
    assert run["requestedBy"].startswith("finance-")
    replay = start(api, finance, "2026-01-16", idempotencyKey="cob-2026-01-16")  # waits, as by default
    assert replay["replayed"] is True and replay["run"]["id"] == run["id"]
    assert (replay["loansProcessed"], replay["entriesPosted"], replay["alreadyDone"]) == (1, 1, False)
    conflict = start(api, finance, "2026-01-17", idempotencyKey="cob-2026-01-16")
    assert conflict["code"] == "IDEMPOTENCY_CONFLICT"

    waited = start(api, finance, "2026-01-17")  # the default: the answer is the finished run, as before runs were jobs
    assert (waited["loansProcessed"], waited["alreadyDone"], waited["run"]["status"]) == (1, False, "SUCCEEDED")
    page = api.graphql(RUNS, token=auditor)["data"]["closeOfBusinessRuns"]
    assert [e["node"]["businessDate"] for e in page["edges"]] == ["2026-01-17"] and page["pageInfo"]["hasNextPage"]
    second = api.graphql(RUNS, {"after": page["pageInfo"]["endCursor"]}, token=auditor)["data"]["closeOfBusinessRuns"]
    assert [e["node"]["id"] for e in second["edges"]] == [run["id"]]
    history = api.graphql("query($id: ID!) { auditEvents(entityId: $id, first: 10) { edges { node { action } } } }",
                          {"id": run["id"]}, token=auditor)["data"]["auditEvents"]["edges"]
    assert [e["node"]["action"] for e in history] == [
        "close_of_business.succeeded", "close_of_business.started", "close_of_business.requested",
    ]


def test_one_run_at_a_time_and_a_date_out_of_order_is_refused_at_once(api):
    desk = Desk(api, Role.FINANCE, Role.ADMIN)
    finance = desk.tokens[Role.FINANCE]
    assert start(api, finance, DISBURSED_ON)["run"]["status"] == "SUCCEEDED"
    out_of_order = start(api, finance, "2026-02-20", wait=False)
    assert (out_of_order["__typename"], out_of_order["code"]) == ("CobOutOfOrderError", "COB_OUT_OF_ORDER")

    # Another server process is running the next date (its row, fresh heartbeat): a second run is refused.
    other = uuid.uuid4()
    now = dt.datetime.now(dt.timezone.utc)
    with api.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO close_of_business_runs (tenant_id, id, business_date, status, requested_by, requested_at, heartbeat_at) "
            "VALUES (:t, :id, '2026-01-16', 'RUNNING', 'elsewhere', :now, :now)"
        ), {"t": desk.books.id, "id": other.hex if api.backend == "sqlite" else str(other), "now": now})
    for wait in (True, False):
        refused = start(api, desk.tokens[Role.ADMIN], "2026-01-16", wait=wait)
        assert (refused["__typename"], refused["code"]) == ("CobAlreadyRunningError", "COB_ALREADY_RUNNING")
        assert refused["runId"] == encode_id("CloseOfBusinessRun", other) and str(other) not in refused["message"]
    with api.engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM close_of_business_runs WHERE tenant_id = :t"), {"t": desk.books.id}).scalar()
    assert count == 2, "nothing queued by the refusals"


def test_another_tenants_run_reads_as_nothing(api):
    ours, theirs = Desk(api, Role.FINANCE), Desk(api, Role.FINANCE, Role.AUDITOR)
    run_id = start(api, ours.tokens[Role.FINANCE], DISBURSED_ON)["run"]["id"]
    assert api.graphql(RUN, {"id": run_id}, token=theirs.tokens[Role.AUDITOR]) == {"data": {"closeOfBusinessRun": None}}
    assert api.graphql(RUNS, token=theirs.tokens[Role.FINANCE])["data"]["closeOfBusinessRuns"]["edges"] == []
    forbidden = api.graphql(RUN, {"id": run_id}, token=ours.api.tenant(Role.COLLECTOR).tokens[Role.COLLECTOR])
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_catching_up_through_a_date_closes_every_pending_date_as_its_own_run(api):
    desk = Desk(api)
    finance = desk.tokens[Role.FINANCE]
    desk.active()
    through = (dt.date.fromisoformat(DISBURSED_ON) + dt.timedelta(days=5)).isoformat()
    query = RUN_COB.replace("replayed run", "replayed datesClosed run")
    body = api.graphql(query, {"i": {"throughDate": through}}, token=finance)["data"]["runCloseOfBusiness"]
    assert (body["__typename"], body["businessDate"], body["datesClosed"]) == ("RunCloseOfBusinessPayload", through, 5)
    assert body["run"]["status"] == "SUCCEEDED" and body["loansProcessed"] == 1
    runs = api.graphql("{ closeOfBusinessRuns(first: 10) { edges { node { businessDate status } } } }", token=finance)
    dates = [edge["node"]["businessDate"] for edge in runs["data"]["closeOfBusinessRuns"]["edges"]]
    assert dates == [(dt.date.fromisoformat(through) - dt.timedelta(days=n)).isoformat() for n in range(5)]
    again = api.graphql(query, {"i": {"throughDate": through}}, token=finance)["data"]["runCloseOfBusiness"]
    assert (again["alreadyDone"], again["datesClosed"]) == (True, 0)
    both = api.graphql(query, {"i": {"throughDate": through, "businessDate": through}}, token=finance)["data"]["runCloseOfBusiness"]
    assert both["code"] == "INVALID_INPUT"
