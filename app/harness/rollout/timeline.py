"""A rehearsal's timeline: the flag's percent, each path's server-error rate and p95, the
gates' verdicts, the injected fault and the rollback, as JSON and as an SVG plot.

Pure over plain data: `build(...)` takes the decisions, the controller's evaluations as
sampled, and (time, path, server error?, duration) tuples of the uploads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VERDICT_LEVEL = {"pass": 2, "off": 2, "short": 1, "fail": 0}


@dataclass(frozen=True)
class Timeline:
    """Everything the plot shows, seconds from `start`."""

    start: dt.datetime
    percent: tuple[tuple[float, float], ...]  # (t, percent after each change)
    events: tuple[tuple[float, str, str], ...]  # (t, action, reason)
    gates: dict  # gate -> ((t, verdict), ...)
    buckets: tuple[float, ...]
    error_rate: dict  # path -> per bucket (None where no uploads)
    p95_ms: dict  # path -> per bucket
    fault_at: float | None

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"start": self.start.isoformat(), "percent": self.percent, "events": self.events, "gates": self.gates,
                "buckets_s": self.buckets, "error_rate": self.error_rate, "p95_ms": self.p95_ms,
                "fault_at_s": self.fault_at}


def build(start: dt.datetime, decisions, evaluations, uploads, fault_at: dt.datetime | None,
          bucket_s: float = 10.0) -> Timeline:
    """Assemble the timeline; `evaluations` are (time, {gate: verdict}) samples."""
    def s(when: dt.datetime) -> float:
        return (when - start).total_seconds()

    ordered = sorted(decisions, key=lambda d: d.at)
    percent = [(0.0, 0.0)]
    for d in ordered:
        if d.action in ("step", "rollback") and d.percent is not None:
            percent.append((s(d.at), float(d.percent)))
    events = tuple((s(d.at), d.action, d.reason) for d in ordered if d.action not in ("hold",))
    gates: dict = {}
    for at, verdicts in evaluations:
        for gate, verdict in verdicts.items():
            gates.setdefault(gate, []).append((s(at), verdict))
    times = np.array([s(t) for t, _, _, _ in uploads]) if uploads else np.empty(0)
    end = max([times.max() if times.size else 0.0] + [p[0] for p in percent]) + bucket_s
    edges = np.arange(0.0, end + bucket_s, bucket_s)
    error_rate, p95 = {}, {}
    for path in ("original", "refactored"):
        mask = np.array([u[1] == path for u in uploads], dtype=bool) if uploads else np.empty(0, dtype=bool)
        errs = np.array([bool(u[2]) for u in uploads]) if uploads else np.empty(0, dtype=bool)
        durs = np.array([u[3] if u[3] is not None else np.nan for u in uploads], dtype=float) if uploads else np.empty(0)
        rates, tails = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = mask & (times >= lo) & (times < hi)
            n = int(sel.sum())
            rates.append(round(float(errs[sel].mean()), 4) if n else None)
            d = durs[sel]
            d = d[~np.isnan(d)]
            tails.append(round(float(np.quantile(d, 0.95)) * 1000, 2) if d.size >= 5 else None)
        error_rate[path], p95[path] = tuple(rates), tuple(tails)
    return Timeline(start, tuple(percent), events, {k: tuple(v) for k, v in gates.items()},
                    tuple(float(e) for e in edges[:-1]), error_rate, p95, s(fault_at) if fault_at else None)


def plot(timeline: Timeline, path: Path, title: str) -> Path:
    """Write the timeline as an SVG: percent, error rates, p95, gate verdicts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(11, 9), sharex=True, gridspec_kw={"height_ratios": [2, 2, 2, 1.3]})
    xs = [p[0] for p in timeline.percent] + [timeline.buckets[-1] + 10 if timeline.buckets else timeline.percent[-1][0]]
    ys = [p[1] for p in timeline.percent] + [timeline.percent[-1][1]]
    axes[0].step(xs, ys, where="post", color="black")
    axes[0].set_ylabel("refactored %")
    axes[0].set_ylim(-5, 105)
    colours = {"original": "tab:blue", "refactored": "tab:orange"}
    width = timeline.buckets[1] - timeline.buckets[0] if len(timeline.buckets) > 1 else 10.0
    centres = [b + width / 2 for b in timeline.buckets]
    for path_name, values in timeline.error_rate.items():
        axes[1].plot(centres, [np.nan if v is None else v * 100 for v in values], label=path_name,
                     color=colours[path_name], marker=".")
    axes[1].set_ylabel("server errors %")
    axes[1].legend(loc="upper left")
    for path_name, values in timeline.p95_ms.items():
        axes[2].plot(centres, [np.nan if v is None else v for v in values], label=path_name,
                     color=colours[path_name], marker=".")
    axes[2].set_ylabel("p95 ms (per 10 s)")
    axes[2].set_yscale("log")
    names = sorted(timeline.gates)
    level_colour = {"pass": "tab:green", "off": "lightgrey", "short": "gold", "fail": "tab:red"}
    for row, gate in enumerate(names):
        points = timeline.gates[gate]
        axes[3].scatter([p[0] for p in points], [row] * len(points), c=[level_colour.get(p[1], "grey") for p in points],
                        s=12, marker="s")
    axes[3].set_yticks(range(len(names)), names)
    axes[3].set_ylim(-0.7, len(names) - 0.3)
    axes[3].set_xlabel("seconds since the plan started (gates: green pass, yellow short of data, red fail)")
    for ax in axes:
        if timeline.fault_at is not None:
            ax.axvline(timeline.fault_at, color="tab:red", linestyle="--", linewidth=1)
        for t, action, _ in timeline.events:
            if action == "rollback":
                ax.axvline(t, color="tab:red", linewidth=2)
            elif action == "step":
                ax.axvline(t, color="grey", linewidth=0.5, linestyle=":")
    axes[0].set_title(title, fontsize=10)
    if timeline.fault_at is not None:
        axes[0].annotate("fault injected", (timeline.fault_at, 95), color="tab:red", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)
    return path
