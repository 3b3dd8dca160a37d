"""The exact summary of a load test, from every request's own record.

Locust's CSV and HTML bucket response times (to 10 ms above 100 ms, to 100 ms above 1 s)
and count an expected refusal as a success; this summary keeps each request's measured
time and verdict, so its counts and percentiles are exact (nearest rank on the sorted
times) and expected errors are counted apart from failures.

A record is a dict: `name` (the Locust request name), `workflow` (direct|staged), `step`
(upload|review|confirm|discard), `kind` (good|bad|blank_id|not_workbook, for uploads),
`path` (the path that served an upload), `outcome` (ok|expected_error|failure),
`reason`, `ms` (response time).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable

from loadtests.expectations import EXPECTED_ERROR, FAILURE, OK

PERCENTILES = (50, 95, 99)


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile `q` (0-100] of already sorted values; None when empty."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def figures(records: list[dict], duration_s: float) -> dict:
    """Counts by verdict, requests per second over `duration_s`, and latency percentiles."""
    times = sorted(r["ms"] for r in records)
    verdicts = Counter(r["outcome"] for r in records)
    out = {
        "requests": len(records),
        "ok": verdicts[OK],
        "expected_errors": verdicts[EXPECTED_ERROR],
        "failures": verdicts[FAILURE],
        "rps": len(records) / duration_s if duration_s > 0 else 0.0,
        "mean_ms": sum(times) / len(times) if times else None,
        "max_ms": times[-1] if times else None,
    }
    for q in PERCENTILES:
        out[f"p{q}_ms"] = percentile(times, q)
    return out


def _grouped(records: Iterable[dict], key) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        value = key(record)
        if value is not None:
            groups[value].append(record)
    return dict(sorted(groups.items()))


def summarise(records: list[dict], duration_s: float, run: dict | None = None) -> dict:
    """The whole summary: totals, per request name, per workflow, per path served (uploads),
    per kind of file (uploads), expected errors and failures by reason."""
    uploads = [r for r in records if r.get("step") == "upload"]
    failures = [r for r in records if r["outcome"] == FAILURE]
    return {
        "run": {**(run or {}), "duration_s": duration_s},
        "totals": figures(records, duration_s),
        "by_name": {k: figures(v, duration_s) for k, v in _grouped(records, lambda r: r["name"]).items()},
        "by_workflow": {k: figures(v, duration_s) for k, v in _grouped(records, lambda r: r.get("workflow")).items()},
        "uploads_by_path": {k: figures(v, duration_s) for k, v in _grouped(uploads, lambda r: r.get("path")).items()},
        "uploads_by_kind": {k: figures(v, duration_s) for k, v in _grouped(uploads, lambda r: r.get("kind")).items()},
        "expected_errors": dict(Counter(f"{r['name']}: {r.get('kind') or r['step']}: {r['reason']}"
                                        for r in records if r["outcome"] == EXPECTED_ERROR).most_common()),
        "unexpected_failures": len(failures),
        "failure_reasons": dict(Counter(f"{r['name']}: {r['reason']}" for r in failures).most_common(50)),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def table(summary: dict) -> str:
    """A short fixed-width table: one row per request name, then per path served, then totals."""
    head = f"{'request':<44} {'reqs':>6} {'ok':>6} {'expect':>6} {'FAIL':>5} {'rps':>6} {'p50':>6} {'p95':>6} {'p99':>6}"
    lines = [head, "-" * len(head)]

    def row(label: str, f: dict) -> str:
        return (f"{label:<44} {f['requests']:>6} {f['ok']:>6} {f['expected_errors']:>6} {f['failures']:>5} "
                f"{f['rps']:>6.1f} {_ms(f['p50_ms']):>6} {_ms(f['p95_ms']):>6} {_ms(f['p99_ms']):>6}")

    lines += [row(name, f) for name, f in summary["by_name"].items()]
    lines.append("-" * len(head))
    lines += [row(f"uploads served by {path}", f) for path, f in summary["uploads_by_path"].items()]
    lines += [row(f"workflow {wf}", f) for wf, f in summary["by_workflow"].items()]
    lines.append(row("TOTAL", summary["totals"]))
    lines.append(f"(times in ms, exact nearest-rank; {summary['run']['duration_s']:.0f} s measured; "
                 f"unexpected failures: {summary['unexpected_failures']})")
    for reason, count in list(summary["failure_reasons"].items())[:10]:
        lines.append(f"  FAIL x{count}: {reason}")
    return "\n".join(lines)
