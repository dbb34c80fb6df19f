"""Days past due, delinquency buckets, the five-tier classification and provision rates. Pure.

Boundaries are tenant configuration; the defaults follow the 2023 risk-classification rules
(more than 90 days overdue at least substandard, 270 doubtful, 360 loss).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal


class Bucket(str, enum.Enum):
    CURRENT = "CURRENT"
    DPD_1_30 = "DPD_1_30"  # M1
    DPD_31_60 = "DPD_31_60"  # M2
    DPD_61_90 = "DPD_61_90"  # M3
    DPD_90_PLUS = "DPD_90_PLUS"  # M3+


bucket_short_names = {
    Bucket.CURRENT: "M0", Bucket.DPD_1_30: "M1", Bucket.DPD_31_60: "M2", Bucket.DPD_61_90: "M3", Bucket.DPD_90_PLUS: "M3+",
}


class LoanClass(str, enum.Enum):
    NORMAL = "NORMAL"  # 正常
    SPECIAL_MENTION = "SPECIAL_MENTION"  # 关注
    SUBSTANDARD = "SUBSTANDARD"  # 次级
    DOUBTFUL = "DOUBTFUL"  # 可疑
    LOSS = "LOSS"  # 损失


class_chinese_names = {
    LoanClass.NORMAL: "正常", LoanClass.SPECIAL_MENTION: "关注", LoanClass.SUBSTANDARD: "次级",
    LoanClass.DOUBTFUL: "可疑", LoanClass.LOSS: "损失",
}


restructure_observation_months_max = 120
restructure_observation_periods_max = 120
class_order = tuple(LoanClass)  # best to worst


@dataclass(frozen=True, slots=True)
class ClassificationPolicy:
    # The lowest DPD at which a loan falls into each class below NORMAL.
    special_mention_from_dpd: int = 1
    substandard_from_dpd: int = 91
    doubtful_from_dpd: int = 271
    loss_from_dpd: int = 361
    # A restructured loan is at least special mention (and no better than before) through an
    # observation period from its first repayment date after the change: at least this many
    # months and at least this many repayment periods, restarted by a missed payment.
    restructure_observation_months: int = 12
    restructure_observation_periods: int = 2
    provision_rates: dict[LoanClass, Decimal] = field(
        default_factory=lambda: {
            LoanClass.NORMAL: Decimal("0.01"),
            LoanClass.SPECIAL_MENTION: Decimal("0.02"),
            LoanClass.SUBSTANDARD: Decimal("0.25"),
            LoanClass.DOUBTFUL: Decimal("0.50"),
            LoanClass.LOSS: Decimal("1"),
        }
    )

    def __post_init__(self) -> None:
        bounds = (self.special_mention_from_dpd, self.substandard_from_dpd, self.doubtful_from_dpd, self.loss_from_dpd)
        if not 1 <= bounds[0] < bounds[1] < bounds[2] < bounds[3]:
            raise ValueError("classification boundaries must increase: special mention < substandard < doubtful < loss")
        if not 0 <= self.restructure_observation_months <= restructure_observation_months_max:
            raise ValueError(f"the restructure observation period is 0 to {restructure_observation_months_max} months")
        if not 0 <= self.restructure_observation_periods <= restructure_observation_periods_max:
            raise ValueError(f"the restructure observation period is 0 to {restructure_observation_periods_max} repayment periods")


default_policy = ClassificationPolicy()


def bucket_for(dpd: int) -> Bucket:
    if dpd <= 0:
        return Bucket.CURRENT
    if dpd <= 30:
        return Bucket.DPD_1_30
    if dpd <= 60:
        return Bucket.DPD_31_60
    if dpd <= 90:
        return Bucket.DPD_61_90
    return Bucket.DPD_90_PLUS


def class_for(dpd: int, policy: ClassificationPolicy = default_policy, floor: str | None = None) -> LoanClass:
    """The class days past due give, never better than `floor` (a restructured loan's, while observed)."""
    by_dpd = _class_by_dpd(dpd, policy)
    if floor is None:
        return by_dpd
    return max(by_dpd, LoanClass(floor), key=class_order.index)


def worse_class(a: LoanClass, b: LoanClass) -> LoanClass:
    return max(a, b, key=class_order.index)


def _class_by_dpd(dpd: int, policy: ClassificationPolicy) -> LoanClass:
    if dpd >= policy.loss_from_dpd:
        return LoanClass.LOSS
    if dpd >= policy.doubtful_from_dpd:
        return LoanClass.DOUBTFUL
    if dpd >= policy.substandard_from_dpd:
        return LoanClass.SUBSTANDARD
    if dpd >= policy.special_mention_from_dpd:
        return LoanClass.SPECIAL_MENTION
    return LoanClass.NORMAL


def provision_for(principal_minor: int, loan_class: LoanClass, policy: ClassificationPolicy = default_policy) -> int:
    """Allowance a loan of this class should carry, in minor units, rounded half-up."""
    amount = Decimal(principal_minor) * policy.provision_rates[loan_class]
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def policy_to_json(policy: ClassificationPolicy) -> dict[str, object]:
    return {
        "special_mention_from_dpd": policy.special_mention_from_dpd,
        "substandard_from_dpd": policy.substandard_from_dpd,
        "doubtful_from_dpd": policy.doubtful_from_dpd,
        "loss_from_dpd": policy.loss_from_dpd,
        "restructure_observation_months": policy.restructure_observation_months,
        "restructure_observation_periods": policy.restructure_observation_periods,
        "provision_rates": {k.value: str(v) for k, v in policy.provision_rates.items()},
    }


def policy_from_json(data: dict) -> ClassificationPolicy:
    rates = {LoanClass(k): Decimal(v) for k, v in data.get("provision_rates", {}).items()}
    for loan_class, rate in rates.items():
        if not 0 <= rate <= 1:
            raise ValueError(f"the provision rate of {loan_class.value} must be between 0 and 1")
    missing = set(LoanClass) - set(rates)
    if missing:
        defaults = ClassificationPolicy().provision_rates
        rates.update({c: defaults[c] for c in missing})
    return ClassificationPolicy(
        special_mention_from_dpd=int(data.get("special_mention_from_dpd", 1)),
        substandard_from_dpd=int(data.get("substandard_from_dpd", 91)),
        doubtful_from_dpd=int(data.get("doubtful_from_dpd", 271)),
        loss_from_dpd=int(data.get("loss_from_dpd", 361)),
        restructure_observation_months=int(data.get("restructure_observation_months", 12)),
        restructure_observation_periods=int(data.get("restructure_observation_periods", 2)),
        provision_rates=rates,
    )
