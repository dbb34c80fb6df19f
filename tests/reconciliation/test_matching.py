"""The matching engine on its own: what is unambiguous matches, the rest is proposed, nothing twice."""
from __future__ import annotations

import datetime as dt

import pytest

from reconciliation.errors import InvalidRules
from reconciliation.matching import Candidate, Line, check_rules, default_rules, reconcile

D = dt.date(2026, 3, 2)


def test_two_equal_amounts_on_the_same_days_are_proposed_not_guessed() -> None:
    lines = [Line("l1", D, 5000)]
    candidates = [Candidate(("e1", 1), D, 5000, name="Zhang San"), Candidate(("e2", 1), D, 5000, name="Li Si")]
    (decision,) = reconcile(lines, candidates, [{"kind": "amount_date", "days": 3}])
    assert (decision.rule, decision.matched) == ("amount_date", False)


def test_counterparty_similarity_picks_inside_the_amount_block() -> None:
    lines = [Line("l1", D, 5000, counterparty_name="ZHANG SAN")]
    candidates = [Candidate(("e1", 1), D, 5000, name="repayment zhang san"), Candidate(("e2", 1), D, 5000, name="Li Si")]
    (decision,) = reconcile(lines, candidates, [{"kind": "amount_date", "days": 3, "name_similarity_min": 85}])
    assert decision.matched and decision.posting_keys == (("e1", 1),)


def test_a_batch_a_split_and_a_charge_deducted() -> None:
    lines = [Line("batch", D, 300), Line("s1", D, 40), Line("s2", D + dt.timedelta(days=1), 60), Line("net", D, 9_950)]
    candidates = [Candidate(("a", 1), D, 110), Candidate(("b", 1), D, 190), Candidate(("c", 1), D, 10_000),
                  Candidate(("split", 1), D, 100)]
    decisions = {d.line_ids: d for d in reconcile(lines, candidates, default_rules)}
    assert decisions[("batch",)].posting_keys == (("a", 1), ("b", 1)) and decisions[("batch",)].matched
    assert decisions[("s1", "s2")].posting_keys == (("split", 1),) and decisions[("s1", "s2")].matched
    assert decisions[("net",)].rule == "amount_tolerance" and not decisions[("net",)].matched


def test_a_reference_in_the_narrative_and_nothing_used_twice() -> None:
    lines = [Line("l1", D, 700, remittance="loan LN-000123 March"), Line("l2", D, 700, remittance="loan LN-000123 again")]
    candidates = [Candidate(("e1", 1), D - dt.timedelta(days=20), 700, references=("LN-000123",))]
    decisions = reconcile(lines, candidates, default_rules)
    keys = [key for d in decisions for key in d.posting_keys]
    assert len(keys) == len(set(keys)) == 1 and decisions[0].rule == "reference_in_text"


@pytest.mark.parametrize("rules", [[], [{"kind": "guess"}], [{"kind": "amount_date", "days": 90}], [{"kind": "amount_date", "days": 1.5}]])
def test_rules_are_checked_data(rules) -> None:
    with pytest.raises(InvalidRules):
        check_rules(rules)
