"""Administration over HTTP: the chart of accounts and API tokens, run from the API alone."""
from __future__ import annotations

from identity.model import Role
from tests.api.lending import Desk, send
from tests.api.test_api_http import error_codes

ME = "{ me { role actorName tenant { slug } } }"
TOKENS = "query($all: Boolean!) { apiTokens(first: 50, includeRevoked: $all) { edges { node { id name role active revokedBy } } } }"
AUDIT = 'query($id: ID!) { auditEvents(entityId: $id, first: 5) { edges { node { action actor } } } }'
SUBMIT = """mutation($i: PostJournalEntryInput!) { postJournalEntry(input: $i) { __typename ... on Error { code message } } }"""


def test_an_admin_issues_a_token_that_works_once_shown_and_revokes_it(api):
    desk = Desk(api, Role.ADMIN, Role.AUDITOR)
    admin = desk.tokens[Role.ADMIN]
    issued = send(api, admin, "createApiToken", {"role": "COLLECTOR", "name": "zhao.collector", "expiresInDays": 90,
                                                 "idempotencyKey": "onboard-zhao"})
    assert issued["__typename"] == "CreateApiTokenPayload" and issued["replayed"] is False
    secret, token = issued["secret"], issued["token"]
    assert secret.startswith(token["tokenPrefix"]) and token["role"] == "COLLECTOR" and token["active"] is True
    me = api.graphql(ME, token=secret)["data"]["me"]
    assert (me["role"], me["actorName"]) == ("COLLECTOR", "zhao.collector")

    replay = send(api, admin, "createApiToken", {"role": "COLLECTOR", "name": "zhao.collector", "expiresInDays": 90,
                                                 "idempotencyKey": "onboard-zhao"})
    assert replay["replayed"] is True and replay["secret"] is None and replay["token"]["id"] == token["id"]
    taken = send(api, admin, "createApiToken", {"role": "FINANCE", "name": "zhao.collector"})
    assert (taken["__typename"], taken["code"]) == ("TokenNameTakenError", "TOKEN_NAME_TAKEN")
    bad = send(api, admin, "createApiToken", {"role": "FINANCE", "expiresInDays": 0})
    assert (bad["__typename"], bad["field"]) == ("InvalidInputError", "expiresInDays")
    names = [e["node"]["name"] for e in api.graphql(TOKENS, {"all": False}, token=admin)["data"]["apiTokens"]["edges"]]
    assert "zhao.collector" in names

    revoked = send(api, admin, "revokeApiToken", {"tokenId": token["id"], "reason": "left the company"})
    assert revoked["token"]["active"] is False and revoked["token"]["revokedBy"] == api.graphql(ME, token=admin)["data"]["me"]["actorName"]
    assert error_codes(api.graphql(ME, token=secret)) == ["UNAUTHENTICATED"]
    again = send(api, admin, "revokeApiToken", {"tokenId": token["id"]})
    assert again["__typename"] == "TokenAlreadyRevokedError"
    active = [e["node"]["name"] for e in api.graphql(TOKENS, {"all": False}, token=admin)["data"]["apiTokens"]["edges"]]
    everyone = [e["node"]["name"] for e in api.graphql(TOKENS, {"all": True}, token=admin)["data"]["apiTokens"]["edges"]]
    assert "zhao.collector" not in active and "zhao.collector" in everyone
    trail = api.graphql(AUDIT, {"id": token["id"]}, token=desk.tokens[Role.AUDITOR])["data"]["auditEvents"]["edges"]
    admin_name = api.graphql(ME, token=admin)["data"]["me"]["actorName"]
    assert sorted((e["node"]["action"], e["node"]["actor"]) for e in trail) == [
        ("api_token.created", admin_name), ("api_token.revoked", admin_name),
    ]


def test_another_tenants_token_cannot_be_revoked(api):
    ours, theirs = Desk(api, Role.ADMIN), Desk(api, Role.ADMIN)
    their_token = send(api, theirs.tokens[Role.ADMIN], "createApiToken", {"role": "AUDITOR"})
    probe = send(api, ours.tokens[Role.ADMIN], "revokeApiToken", {"tokenId": their_token["token"]["id"]})
    assert probe["__typename"] == "UnknownTokenError"
    assert api.graphql(ME, token=their_token["secret"])["data"]["me"]["role"] == "AUDITOR"


def test_finance_opens_and_closes_accounts(api):
    desk = Desk(api, Role.FINANCE, Role.ADMIN)
    finance = desk.tokens[Role.FINANCE]
    usd = {"code": "1150", "name": "Bank - USD", "type": "ASSET", "parentCode": "1000", "currencies": ["USD"], "balanceSlots": 4,
           "idempotencyKey": "open-1150"}
    opened = send(api, finance, "openAccount", usd)
    assert opened["account"] == {"code": "1150", "name": "Bank - USD", "type": "ASSET", "normalBalance": "DEBIT", "status": "OPEN",
                                 "parentCode": "1000"}
    assert send(api, finance, "openAccount", usd)["replayed"] is True
    assert send(api, finance, "openAccount", {**usd, "idempotencyKey": None})["__typename"] == "AccountExistsError"
    mismatch = send(api, finance, "openAccount", {"code": "1160", "name": "x", "type": "INCOME", "parentCode": "1000"})
    assert mismatch["__typename"] == "InvalidAccountError"
    slots = send(api, finance, "openAccount", {"code": "1161", "name": "x", "type": "ASSET", "balanceSlots": 65})
    assert slots["__typename"] == "InvalidAccountError"
    # The currency restriction holds for postings: a CNY line on the USD account is refused at submission.
    cny = {"effectiveDate": "2026-01-05", "description": "wrong currency", "postings": [
        {"accountCode": "1150", "side": "DEBIT", "amount": "1.00", "currency": "CNY"},
        {"accountCode": "3100", "side": "CREDIT", "amount": "1.00", "currency": "CNY"},
    ]}
    assert api.graphql(SUBMIT, {"i": cny}, token=finance)["data"]["postJournalEntry"]["code"] == "CURRENCY_NOT_ALLOWED"
    closed = send(api, finance, "closeAccount", {"code": "1150", "reason": "account moved to another bank"})
    assert closed["account"] == {"code": "1150", "status": "CLOSED"}
    assert send(api, finance, "closeAccount", {"code": "1150"})["__typename"] == "AccountClosedError"
    assert send(api, finance, "closeAccount", {"code": "9999"})["__typename"] == "UnknownAccountError"
    capital = {**cny, "postings": [{**cny["postings"][0], "accountCode": "1100"}, cny["postings"][1]]}
    submitted = api.graphql(SUBMIT.replace("__typename", "__typename ... on PostJournalEntryPayload { request { id } }"),
                            {"i": capital}, token=finance)["data"]["postJournalEntry"]
    approve = "mutation($i: ApproveJournalEntryInput!) { approveJournalEntry(input: $i) { __typename } }"
    assert api.graphql(approve, {"i": {"requestId": submitted["request"]["id"]}}, token=desk.tokens[Role.ADMIN])["data"][
        "approveJournalEntry"]["__typename"] == "ApproveJournalEntryPayload"
    assert send(api, finance, "closeAccount", {"code": "1100"})["__typename"] == "AccountNotEmptyError"
    assert send(api, finance, "closeAccount", {"code": "1000"})["__typename"] == "InvalidAccountError"  # open children


def test_header_accounts_group_the_chart_and_refuse_postings(api):
    finance = Desk(api, Role.FINANCE).tokens[Role.FINANCE]
    opened = api.graphql("""mutation($i: OpenAccountInput!) { openAccount(input: $i) {
        __typename ... on OpenAccountPayload { account { code isHeader parent { code isHeader } } } } }""",
                         {"i": {"code": "1500", "name": "Other receivables", "type": "ASSET", "parentCode": "1000", "isHeader": True}},
                         token=finance)["data"]["openAccount"]
    assert opened["account"] == {"code": "1500", "isHeader": True, "parent": {"code": "1000", "isHeader": True}}
    assert send(api, finance, "openAccount", {"code": "1510", "name": "Staff advances", "type": "ASSET", "parentCode": "1500"})[
        "account"]["parentCode"] == "1500"
    under_leaf = send(api, finance, "openAccount", {"code": "1511", "name": "x", "type": "ASSET", "parentCode": "1510"})
    assert under_leaf["__typename"] == "InvalidAccountError" and "takes postings" in under_leaf["message"]
    to_header = {"effectiveDate": "2026-01-05", "description": "advance", "postings": [
        {"accountCode": "1500", "side": "DEBIT", "amount": "20.00", "currency": "CNY"},
        {"accountCode": "1100", "side": "CREDIT", "amount": "20.00", "currency": "CNY"},
    ]}
    refused = api.graphql("""mutation($i: PostJournalEntryInput!) { postJournalEntry(input: $i) {
        __typename ... on HeaderAccountError { code message accountCode childCodes } } }""", {"i": to_header}, token=finance)
    assert refused["data"]["postJournalEntry"] == {
        "__typename": "HeaderAccountError", "code": "HEADER_ACCOUNT", "accountCode": "1500", "childCodes": ["1510"],
        "message": "account 1500 (Other receivables) is a header account and takes no postings; "
                   "post to one of its child accounts: 1510",
    }
    chart = api.graphql("{ accounts(first: 50) { edges { node { code isHeader } } } }", token=finance)["data"]["accounts"]["edges"]
    assert sorted(e["node"]["code"] for e in chart if e["node"]["isHeader"]) == ["1000", "1500", "2000", "3000", "4000", "5000"]


def test_the_tenant_shows_its_functional_currency_and_its_chart_accepts_it(api):
    finance = Desk(api, Role.FINANCE).tokens[Role.FINANCE]
    tenant = api.graphql("{ me { tenant { functionalCurrency } } }", token=finance)["data"]["me"]["tenant"]
    assert tenant == {"functionalCurrency": "CNY"}
    chart = api.graphql("{ accounts(first: 50) { edges { node { code isHeader currencies } } } }", token=finance)["data"]["accounts"]
    currencies = {e["node"]["code"]: e["node"]["currencies"] for e in chart["edges"] if not e["node"]["isHeader"]}
    assert currencies.pop("3200") is None and set(map(tuple, currencies.values())) == {("CNY",)}


def test_finance_sets_the_classification_policy_that_everyone_reads(api):
    desk = Desk(api, Role.FINANCE, Role.LOAN_OFFICER)
    finance = desk.tokens[Role.FINANCE]
    read = "{ classificationPolicy { specialMentionFromDpd substandardFromDpd doubtfulFromDpd lossFromDpd provisionRates { loanClass rate } } }"
    default = api.graphql(read, token=desk.tokens[Role.LOAN_OFFICER])["data"]["classificationPolicy"]
    assert (default["substandardFromDpd"], default["lossFromDpd"]) == (91, 361)
    change = {"substandardFromDpd": 61, "provisionRates": [{"loanClass": "SUBSTANDARD", "rate": "0.30"}], "reason": "regulator 2026-7",
              "idempotencyKey": "policy-2026-7"}
    changed = send(api, finance, "setClassificationPolicy", change)
    policy = changed["policy"]
    assert (policy["specialMentionFromDpd"], policy["substandardFromDpd"], policy["lossFromDpd"]) == (1, 61, 361)
    rates = {r["loanClass"]: r["rate"] for r in policy["provisionRates"]}
    assert rates["SUBSTANDARD"] == "0.30" and rates["LOSS"] == "1" and rates["NORMAL"] == "0.01"
    assert send(api, finance, "setClassificationPolicy", change)["replayed"] is True
    refused = send(api, finance, "setClassificationPolicy", {"doubtfulFromDpd": 30})
    assert refused["__typename"] == "InvalidClassificationPolicyError" and "increase" in refused["message"]
    too_high = send(api, finance, "setClassificationPolicy", {"provisionRates": [{"loanClass": "LOSS", "rate": "1.5"}]})
    assert too_high["__typename"] == "InvalidClassificationPolicyError"
    twice = send(api, finance, "setClassificationPolicy", {"provisionRates": [{"loanClass": "LOSS", "rate": "1"}, {"loanClass": "LOSS", "rate": "1"}]})
    assert (twice["__typename"], twice["field"]) == ("InvalidInputError", "provisionRates")
    assert api.graphql(read, token=desk.tokens[Role.LOAN_OFFICER])["data"]["classificationPolicy"] == policy
