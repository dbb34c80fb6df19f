"""The reliability suite (`make reliability`) at a small scale: a private PostgreSQL cluster, four
faults under keyed concurrent repayments, and nothing lost or doubled afterwards.

The suite needs PostgreSQL's server programs (initdb, pg_ctl) to make its own cluster; it never
touches the machine's shared server. Without them the test is skipped, or fails under CI=true.
"""
from __future__ import annotations

import pytest

from reliability.cluster import ClusterUnavailable, PrivateCluster
from reliability.suite import run_suite, small_scale
from tests.conftest import in_ci

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def report():
    try:
        PrivateCluster.check_available()
    except ClusterUnavailable as exc:
        if in_ci:
            pytest.fail(f"{exc} (CI=true: the reliability suite is never skipped)")
        pytest.skip(f"no private PostgreSQL cluster can be made here: {exc}")
    lines: list[str] = []
    report = run_suite(small_scale, out=lines.append)
    report.lines = lines
    return report


def test_every_acknowledged_repayment_is_stored_exactly_once_through_every_fault(report):
    transcript = "\n".join(report.lines)
    assert report.passed, transcript
    total = report.figures()
    assert total["acknowledged"] == total["found"] > 0 and total["lost"] == total["duplicated"] == 0, transcript
    for phase in "abcd":
        assert report.figures(phase)["found"] > 0, (phase, transcript)
    assert report.check.unexpected == 0 and report.check.problems == []


def test_the_faults_happened_and_the_clients_saw_them(report):
    transcript = "\n".join(report.lines)
    assert report.server_starts == 2 and report.postgres_restarts == 1 and report.connections_cut > 0, transcript
    assert sum(report.tallies["b"].errors.values()) > 0, transcript  # the killed server answered nobody for a while
    assert report.tallies["a"].cob_dates_closed == small_scale.cob_dates, transcript
    assert sum(t.replays_confirmed for t in report.tallies.values()) > 0, transcript


def test_the_books_verify_clean_and_restore_to_the_same_trial_balance_and_chain_head(report):
    assert report.verify_clean, report.verify_output
    assert report.restored_same, report.restore_detail
    assert "PASS" in report.lines[-1]
