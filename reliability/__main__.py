"""`python -m reliability` (`make reliability`): the suite at full scale, or at the scale given."""
from __future__ import annotations

import argparse
import dataclasses
import sys

from reliability.cluster import ClusterUnavailable
from reliability.suite import full_scale, run_suite, small_scale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--small", action="store_true", help="the small scale `make test` runs (seconds, not minutes)")
    for name in ("clients", "loans", "cob_dates"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int)
    for name in ("phase_seconds", "grace_seconds", "postgres_down_seconds"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float)
    args = parser.parse_args(argv)
    scale = small_scale if args.small else full_scale
    scale = dataclasses.replace(scale, **{f.name: getattr(args, f.name) for f in dataclasses.fields(scale)
                                          if getattr(args, f.name) is not None})
    try:
        report = run_suite(scale, out=lambda line: print(line, flush=True))
    except ClusterUnavailable as exc:
        print(f"error: cannot make a private PostgreSQL cluster: {exc}", file=sys.stderr)
        return 2
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
