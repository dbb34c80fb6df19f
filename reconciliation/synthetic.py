"""Generated books and statements whose true matching is known: for property tests and the benchmark.

`generate(n, seed)` makes n bank-account postings (their entries' idempotency keys are the references)
and the statement a bank would send for them, with noise: dates shifted by up to two days, a third of
the lines without any reference, payments bundled into one line (a batch) and split over two (a
split repayment), bank fees, items missing from the statement (in transit), and strangers' transfers
the books lack. `truth` maps each line's bank reference to the postings it really pays.
"""
from __future__ import annotations

import datetime as dt
import random
from typing import NamedTuple


class BookItem(NamedTuple):
    key: str  # the entry's idempotency key
    day: dt.date
    amount_minor: int  # money in > 0


class BankItem(NamedTuple):
    reference: str  # the bank's own reference
    day: dt.date
    amount_minor: int
    end_to_end_id: str | None
    name: str | None
    remittance: str | None


class Generated(NamedTuple):
    postings: list[BookItem]
    lines: list[BankItem]
    truth: dict[str, frozenset[str]]  # bank reference -> posting keys (empty: nothing in the books)


def generate(n: int, seed: int = 7, start: dt.date = dt.date(2026, 1, 1)) -> Generated:
    rng = random.Random(seed)
    postings: list[BookItem] = []
    lines: list[BankItem] = []
    truth: dict[str, frozenset[str]] = {}
    used_amounts: set[int] = set()

    # Every amount a line or posting shows is unlike every other, sums and parts included: a split's part
    # equal to an unrelated payment a day or two away would make two assignments equally right, and the
    # truth could not be told from the lines.
    def amount(sign: int | None = None) -> int:
        while True:
            value = rng.randrange(10_000, 50_000_000) * (sign or rng.choice((1, 1, 1, -1)))
            if value not in used_amounts:
                used_amounts.add(value)
                return value

    def free(*values: int) -> bool:
        return len(set(values)) == len(values) and not used_amounts.intersection(values)

    def line(keys: list[str], day: dt.date, minor: int, *, with_ref: bool, name: str | None = None) -> None:
        reference = f"B{len(lines):08d}"
        e2e = keys[0] if with_ref and len(keys) == 1 else None
        lines.append(BankItem(reference, day + dt.timedelta(days=rng.randrange(0, 3)), minor, e2e, name,
                              f"payment {rng.randrange(10**6)}"))
        truth[reference] = frozenset(keys)

    i = 0
    while len(postings) < n:
        day = start + dt.timedelta(days=i // 200)
        roll = rng.random()
        key = f"P{len(postings):08d}"
        if roll < 0.01 and len(postings) + 2 <= n:  # two payments in one bank line (a batch)
            a = amount()
            b = amount(1 if a > 0 else -1)
            while not free(a + b):
                b = amount(1 if a > 0 else -1)
            used_amounts.add(a + b)
            keys = [key, f"P{len(postings) + 1:08d}"]
            postings += [BookItem(keys[0], day, a), BookItem(keys[1], day, b)]
            line(keys, day, a + b, with_ref=False)
        elif roll < 0.02:  # one payment in two bank lines (a split)
            total = amount()
            while not free(total // 3, total - total // 3):
                total = amount()
            part = total // 3
            used_amounts.update((part, total - part))
            postings.append(BookItem(key, day, total))
            line([key], day, part, with_ref=False)
            line([key], day, total - part, with_ref=False)
        elif roll < 0.025:  # in the books, not yet at the bank
            postings.append(BookItem(key, day, amount()))
        else:
            minor = amount()
            postings.append(BookItem(key, day, minor))
            line([key], day, minor, with_ref=rng.random() < 0.67, name=f"Customer {rng.randrange(10**5)}")
        if rng.random() < 0.005:  # a bank fee, and a stranger's transfer: nothing in the books
            line([], day, -rng.randrange(100, 5_000), with_ref=False)
            line([], day, amount() if rng.random() < 0.5 else amount(1), with_ref=False, name="A Stranger")
        i += 1
    return Generated(postings[:n], lines, truth)
