"""`make stack` / `make stack-down`: the production shape on loopback.

    python -m loadtests.stack up [--folder results/stack] [--base-port 18600] [--workers 2] [--faults]
    python -m loadtests.stack down [--folder results/stack] [--keep-data]
    python -m loadtests.stack status | env

`up` starts nginx on the base port in front of two portal instances (base+1, base+2;
`harness serve`, gunicorn with --workers each) sharing one PostgreSQL schema and one Redis
key prefix, and Prometheus (base+90) scraping both every 5 s with ops/prometheus/rules.yml;
it prints every address and returns, leaving them running. `down` stops exactly the pids
in the folder's state file. `env` prints the HARNESS_* settings for `harness` commands
(flags, rollback) on the stack's data. See docs/deployment.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from loadtests.stack.runner import (
    DEFAULT_POSTGRES,
    DEFAULT_REDIS,
    Ports,
    Stack,
    StackConfig,
    StackError,
    StackState,
    describe,
    stop,
)

ROOT = Path(__file__).resolve().parents[2]
# Fault injection is refused with HARNESS_ENV=production; a rehearsal stack runs without it.
REHEARSAL_ENV = {"HARNESS_ENV": "development", "HARNESS_FAULTS": ""}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtests.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "down", "status", "env"))
    parser.add_argument("--folder", default=str(ROOT / "results" / "stack"), help="rendered files, logs, state file")
    parser.add_argument("--base-port", type=int, default=18600, help="nginx port; instances +1, +2; Prometheus +90")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--postgres", default=os.environ.get("HARNESS_STACK_POSTGRES_URL")
                        or os.environ.get("HARNESS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=os.environ.get("HARNESS_STACK_REDIS_URL")
                        or os.environ.get("HARNESS_TEST_REDIS_URL") or DEFAULT_REDIS)
    parser.add_argument("--name", default="arb_stack", help="PostgreSQL schema and Redis key prefix")
    parser.add_argument("--keep-data", action="store_true", help="down: keep the schema and the flag keys")
    parser.add_argument("--faults", action="store_true",
                        help="up: a rehearsal stack, fault injection allowed (/admin/api/faults; HARNESS_ENV=development)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; 0 on success, 1 when the stack could not be started or found."""
    args = _parser().parse_args(argv)
    folder = Path(args.folder).resolve()
    if args.command == "up":
        config = StackConfig(folder=folder, ports=Ports.from_base(args.base_port), name=args.name,
                             postgres_url=args.postgres, redis_url=args.redis, workers=args.workers,
                             portal_env=REHEARSAL_ENV if args.faults else {})
        try:
            state = Stack(config).up()
        except StackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(describe(state))
        print("stop it with: make stack-down")
        return 0
    if args.command == "down":
        stopped = stop(folder, keep_data=args.keep_data)
        print(f"stopped: {', '.join(stopped)}" if stopped else f"nothing was running from {folder}")
        return 0
    state = StackState.load(folder)
    if state is None:
        print(f"no stack recorded in {folder}", file=sys.stderr)
        return 1
    if args.command == "env":
        for key, value in state.portal_env().items():
            print(f"{key}={value}")
        return 0
    print(describe(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
