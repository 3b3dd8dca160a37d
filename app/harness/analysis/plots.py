"""The report's plots, drawn by matplotlib as inline SVG (no files, no network)."""

from __future__ import annotations

import datetime as dt
import io

import matplotlib

matplotlib.use("Agg")  # noqa: E402 - no display; set before pyplot loads
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from app.harness.analysis.compare import RouteComparison  # noqa: E402
from app.harness.analysis.samples import RouteSamples  # noqa: E402

COLOURS = {"original": "#1f77b4", "refactored": "#d62728"}
MAX_POINTS = 50_000  # per path in the latency plot (a uniform subsample beyond it; the shape is the same)


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inline


def _times(edges: list[float]) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp((a + b) / 2, dt.timezone.utc) for a, b in zip(edges[:-1], edges[1:])]


def latency_plot(samples: RouteSamples, title: str) -> str:
    """Both paths' duration distributions overlaid (log-spaced bins, milliseconds)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    rng = np.random.default_rng(0)
    data = {}
    for name, p in samples.paths.items():
        values = p.latencies()
        if values.size > MAX_POINTS:
            values = rng.choice(values, MAX_POINTS, replace=False)
        data[name] = values[values > 0] * 1000
    every = np.concatenate([v for v in data.values()]) if data else np.array([])
    if every.size:
        bins = np.geomspace(max(every.min(), 1e-3), every.max() * 1.01, 60)
        for name, values in data.items():
            if values.size:
                ax.hist(values, bins=bins, density=True, histtype="stepfilled", alpha=0.35, color=COLOURS[name],
                        label=f"{name} (n={values.size})", edgecolor=COLOURS[name])
        ax.set_xscale("log")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no durations in this window", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("upload duration (ms, log scale)")
    ax.set_ylabel("density")
    ax.set_title(title)
    return _svg(fig)


def rates_plot(c: RouteComparison, title: str) -> str:
    """Success and server-error rates over time per path, with the rollout percent."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    times = _times(c.timeline["edges"])
    for name in ("original", "refactored"):
        series = c.timeline[name]
        ok = [np.nan if x is None else x * 100 for x in series["success_rate"]]
        bad = [np.nan if x is None else x * 100 for x in series["server_error_rate"]]
        ax.plot(times, ok, color=COLOURS[name], label=f"{name} success %")
        ax.plot(times, bad, color=COLOURS[name], linestyle="--", label=f"{name} server error %")
    ax.set_ylim(-2, 102)
    ax.set_ylabel("% of uploads")
    if c.timeline.get("percent") is not None:
        twin = ax.twinx()
        twin.step(times, c.timeline["percent"], where="mid", color="#555555", alpha=0.6, label="rollout percent")
        twin.set_ylim(-2, 102)
        twin.set_ylabel("rollout percent")
        twin.legend(loc="lower right", fontsize=7)
    ax.legend(loc="center left", fontsize=7)
    ax.set_title(title)
    fig.autofmt_xdate()
    return _svg(fig)


def decisions_plot(c: RouteComparison, title: str) -> str:
    """Uploads by routing reason, per path (stacked bars)."""
    fig, ax = plt.subplots(figsize=(7, 2.8))
    reasons = list(c.decisions) or ["(none)"]
    left = np.zeros(len(reasons))
    for name in ("original", "refactored"):
        values = np.array([c.decisions.get(r, {}).get(name, 0) for r in reasons], dtype=float)
        ax.barh(reasons, values, left=left, color=COLOURS[name], label=name)
        left += values
    ax.set_xlabel("uploads")
    ax.legend(fontsize=7)
    ax.set_title(title)
    return _svg(fig)


def shadow_plot(c: RouteComparison, title: str) -> str:
    """Stored shadow mismatches per time bin."""
    fig, ax = plt.subplots(figsize=(7, 2.6))
    times = _times(c.timeline["edges"])
    width = (c.window.seconds / max(1, len(times))) / 86400 * 0.9
    ax.bar(times, c.shadow.over_time, width=width, color="#9467bd", label="mismatches")
    if c.shadow.runs is not None:
        counts = c.shadow.runs.counts
        ax.text(0.99, 0.95, " / ".join(f"{k} {counts.get(k, 0):.0f}" for k in ("match", "mismatch", "ignored")),
                ha="right", va="top", transform=ax.transAxes, fontsize=8)
    ax.set_ylabel("mismatches")
    ax.set_title(title)
    fig.autofmt_xdate()
    return _svg(fig)
