"""The tenant's classification policy (五级分类 boundaries and provision rates): set it, audited."""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.engine import Connection

from ledger.actor import Actor
from ledger.model import canonical_json
from ledger.unit_of_work import record_event
from loans.delinquency import ClassificationPolicy, policy_from_json, policy_to_json
from loans.errors import InvalidClassificationPolicy
from loans.store.repository import save_tenant_policy, tenant_policy


def set_classification_policy(conn: Connection, actor: Actor, values: Mapping[str, object]) -> ClassificationPolicy:
    """Set the tenant's five-tier boundaries (lowest DPD of each class) and provision rates.

    Takes effect from the next close of business; classes already stored are not rewritten.
    """
    before = tenant_policy(conn, actor.tenant_id)
    try:
        policy = policy_from_json({**policy_to_json(before), **dict(values)})
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise InvalidClassificationPolicy(f"classification policy: {exc}", field="classification") from None
    save_tenant_policy(conn, actor, canonical_json(policy_to_json(policy)))
    record_event(conn, actor, "loan_policy.changed", "loan_policy", actor.tenant_id,
                 before=policy_to_json(before), after=policy_to_json(policy))
    return policy
