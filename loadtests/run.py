"""`make loadtest`: a headless Locust run, its reports, and an exact summary.

    python -m loadtests.run [--host URL] [--users 20] [--spawn-rate 5] [--run-time 60s]
                            [--workers N] [--portal-workers 2] [--results results/loadtest]
                            [--tags routed] ...
                            [any other Locust option, passed through]

Without `--host` it starts the portal itself on the embedded default (`harness serve`:
SQLite in a fresh instance folder under the results folder, real gunicorn with
`--portal-workers`, `HARNESS_TRUST_USER_HEADER=true`) and stops it afterwards. With `--host` it
targets that portal (which must trust `X-Portal-User`, or every upload is one anonymous
user and the rollout buckets do not matter).

Locust runs in its own process (its gevent monkey-patching must not reach the caller),
writes `locust_stats.csv`, `locust_stats_history.csv`, `locust_failures.csv`,
`locust_exceptions.csv`, `report.html` and `locust.json` into the results folder, and
every request's verdict to `samples.json`; this driver turns those into `summary.json`
(exact counts and percentiles, see loadtests/summary.py) and prints a short table.
`--workers N` runs Locust distributed: a master (no users of its own: it spreads them,
gathers the statistics and writes the reports) and N worker processes on this machine,
each generating load and writing its own `samples-worker-K.json`, merged here. Workers on
other machines join the same master with Locust's own flags (docs/loadtests.md).
Exit status: 0 when requests were made, none failed unexpectedly and Locust itself
reported no error; 1 otherwise; 2 when the run itself could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from loadtests.server import Server, ServerError, free_port
from loadtests.summary import summarise, table

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
SHAPE_FILE = ROOT / "loadtests" / "shape.py"
STOP_TIMEOUT_S = 10
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?")


def parse_duration(text: str) -> int:
    """Seconds in a Locust run time: `90`, `90s`, `2m`, `1h30m`, `1m30s`."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    match = _DURATION.fullmatch(text)
    if not text or not match or not any(match.groups()):
        raise ValueError(f"not a run time: {text!r} (e.g. 90s, 2m, 1h30m)")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtests.run", description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     epilog="Unknown options go to Locust unchanged (see locust --help).")
    parser.add_argument("--host", help="target portal URL; default: start one on the embedded default")
    parser.add_argument("--users", "-u", type=int, default=20)
    parser.add_argument("--spawn-rate", "-r", type=float, default=5.0, help="users started per second")
    parser.add_argument("--run-time", "-t", default="60s", help="e.g. 60s, 2m")
    parser.add_argument("--workers", type=int, default=0,
                        help="Locust worker processes (distributed mode: a master and N workers); 0: one process")
    parser.add_argument("--master-port", type=int, default=0, help="with --workers: the master's port (default: a free one)")
    parser.add_argument("--portal-workers", type=int, default=2, help="gunicorn workers of the portal this starts")
    parser.add_argument("--results", default=str(ROOT / "results" / "loadtest"), help="folder for every output")
    parser.add_argument("--shape", choices=("none", "step"), default="none",
                        help="step: stepped users from loadtests/shape.py (--step-users, --step-seconds, --steps)")
    parser.add_argument("--step-users", type=int, default=5, help="with --shape step: users added per step")
    parser.add_argument("--step-seconds", type=float, default=30.0, help="with --shape step: seconds per step")
    parser.add_argument("--steps", type=int, default=4, help="with --shape step: number of steps")
    parser.add_argument("--keep-instance", action="store_true", help="keep the started portal's instance folder")
    return parser


def _locustfiles(args: argparse.Namespace) -> str:
    return f"{LOCUSTFILE},{SHAPE_FILE}" if args.shape == "step" else str(LOCUSTFILE)


def locust_command(args: argparse.Namespace, host: str, results: Path, passthrough: list[str]) -> list[str]:
    """The Locust command line for a headless run writing into `results` (the master's, with --workers)."""
    command = [sys.executable, "-m", "locust", "-f", _locustfiles(args), "--headless", "--host", host, "--only-summary",
               "--stop-timeout", str(STOP_TIMEOUT_S), "--csv", str(results / "locust"), "--html", str(results / "report.html"),
               "--json-file", str(results / "locust")]
    if args.workers:
        command += ["--master", "--expect-workers", str(args.workers), "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(args.master_port)]
    else:
        command += ["--samples-file", str(results / "samples.json")]
    if args.shape == "step":
        command += ["--step-users", str(args.step_users), "--step-seconds", str(args.step_seconds), "--steps", str(args.steps),
                    "--step-spawn-rate", str(args.spawn_rate)]
    else:
        command += ["--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.run_time]
    return command + passthrough


def worker_command(args: argparse.Namespace, index: int, results: Path, passthrough: list[str]) -> list[str]:
    """The command line of local Locust worker `index` (its own samples file)."""
    return [sys.executable, "-m", "locust", "-f", _locustfiles(args), "--worker", "--master-host", "127.0.0.1",
            "--master-port", str(args.master_port), "--samples-file", str(results / f"samples-worker-{index}.json"),
            *passthrough]


def merge_samples(paths: list[Path]) -> dict:
    """One samples document from the workers' (records joined; the window from first start to last stop)."""
    parts = [json.loads(path.read_text()) for path in paths]
    merged = dict(parts[0])
    merged["records"] = [record for part in parts for record in part["records"]]
    merged["started"] = min(part["started"] for part in parts)
    merged["stopped"] = max(part["stopped"] for part in parts)
    merged["workers"] = len(parts)
    return merged


def planned_seconds(args: argparse.Namespace) -> int:
    """How long the load is meant to last (bounds the wait for Locust)."""
    if args.shape == "step":
        return int(args.step_seconds * args.steps)
    return parse_duration(args.run_time)


def run_locust(command: list[str], results: Path, budget_s: float, workers: list[list[str]] = ()) -> int:
    """Run Locust in its own process (and its workers in theirs), bounded by `budget_s`;
    logs to `results/locust.log` (and `locust-worker-K.log`)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with (results / "locust.log").open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    children = []
    for index, worker in enumerate(workers, start=1):
        with (results / f"locust-worker-{index}.log").open("w") as log:
            children.append(subprocess.Popen(worker, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True))
    try:
        code = process.wait(budget_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        print(f"Locust did not finish within {budget_s:.0f} s; killed", file=sys.stderr)
        code = -9
    # The master tells its workers to quit when it stops; one that does not is stopped.
    for child in children:
        try:
            child.wait(STOP_TIMEOUT_S + 20)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the load test; print the table; return the exit status."""
    args, passthrough = _parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        seconds = planned_seconds(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = Path(args.results).resolve()
    for stale in ("samples.json", "summary.json", "locust.json", "report.html"):
        (results / stale).unlink(missing_ok=True)
    for stale in results.glob("samples-worker-*.json"):
        stale.unlink()
    results.mkdir(parents=True, exist_ok=True)
    if args.workers and not args.master_port:
        args.master_port = free_port()
    server = None if args.host else Server(results / "instance", workers=args.portal_workers, log_path=results / "server.log")
    started = time.time()
    try:
        host = args.host.rstrip("/") if args.host else server.start()
        print(f"load test: {host}, {'stepped load' if args.shape == 'step' else f'{args.users} users'}, "
              f"{seconds} s{f', Locust master + {args.workers} workers' if args.workers else ''}; results in {results}",
              flush=True)
        workers = [worker_command(args, n, results, passthrough) for n in range(1, args.workers + 1)]
        code = run_locust(locust_command(args, host, results, passthrough), results, seconds + STOP_TIMEOUT_S + 120, workers)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.stop()
            if not args.keep_instance:
                shutil.rmtree(server.instance, ignore_errors=True)
    samples_path = results / "samples.json"
    if args.workers:
        written = sorted(results.glob("samples-worker-*.json"))
        if len(written) != args.workers:
            print(f"error: {len(written)} of {args.workers} Locust workers wrote samples (exit {code}); "
                  f"see {results}/locust-worker-*.log", file=sys.stderr)
            return 2
        samples_path.write_text(json.dumps(merge_samples(written)))
    if not samples_path.exists():
        print(f"error: Locust wrote no samples (exit {code}); see {results / 'locust.log'}", file=sys.stderr)
        return 2
    samples = json.loads(samples_path.read_text())
    run = {"host": host, "started_portal": server is not None, "portal_workers": args.portal_workers if server else None,
           "locust_workers": args.workers,
           "users": None if args.shape == "step" else args.users, "spawn_rate": args.spawn_rate,
           "shape": args.shape, "planned_s": seconds, "locust_args": passthrough, "locust_exit_code": code,
           "mix": samples["mix"], "user_ids": samples["user_ids"], "pool": samples["pool"],
           "started_at": started, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                              "platform": platform.platform()}}
    summary = summarise(samples["records"], max(samples["stopped"] - samples["started"], 1e-9), run)
    (results / "summary.json").write_text(json.dumps(summary, indent=2))
    print(table(summary))
    print(f"\nsummary: {results / 'summary.json'}  report: {results / 'report.html'}  csv: {results / 'locust_stats.csv'}")
    if code != 0 and not summary["unexpected_failures"]:
        # No request failed, so Locust saw an error of its own (an exception in the locustfile).
        print(f"Locust exited with {code}: see {results / 'locust_exceptions.csv'} and {results / 'locust.log'}",
              file=sys.stderr)
    return 0 if code == 0 and summary["totals"]["requests"] and not summary["unexpected_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
