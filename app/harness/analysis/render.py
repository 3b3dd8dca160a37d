"""The report's three files: ab-report.json (for tools), ab-report.md (for a ticket or a
chat), ab-report.html (one self-contained page: inline CSS and SVG plots, opens offline)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.harness.analysis import plots
from app.harness.analysis.report import Report

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def pct(value) -> str:
    """A rate as a percentage ('' when unknown)."""
    return "" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value * 100:.2f}%"


def _ci_pts(d: dict) -> str:
    lo, hi = d["ci"]
    if d["difference"] is None:
        return ""
    return f"{d['difference'] * 100:+.2f} pts ({lo * 100:+.2f} to {hi * 100:+.2f})"


def _ms(e: dict) -> str:
    return "" if e["value"] is None else f"{e['value'] * 1000:.1f} ms"


def _ratio(e: dict) -> str:
    lo, hi = e["ci"]
    if e["value"] is None:
        return ""
    return f"{e['value']:.3f}x" + ("" if lo is None else f" ({lo:.3f} to {hi:.3f})")


def figure_rows(f: dict) -> list[tuple[str, str, str, str]]:
    """The per-path table: one row per figure, original, refactored, the difference."""
    o, r, d = f["original"], f["refactored"], f["refactored_minus_original"]
    rows = [("uploads (settled)", f"{o['uploads']} ({o['settled']})", f"{r['uploads']} ({r['settled']})", ""),
            ("success rate", pct(o["success"]["rate"]), pct(r["success"]["rate"]), _ci_pts(d["success_rate"])),
            ("server-error rate", pct(o["server_error"]["rate"]), pct(r["server_error"]["rate"]),
             _ci_pts(d["server_error_rate"])),
            ("client-rejection rate", pct(o["client_error"]["rate"]), pct(r["client_error"]["rate"]),
             _ci_pts(d["client_error_rate"]))]
    for q in ("p50", "p95", "p99"):
        rows.append((f"latency {q}", _ms(o["latency_seconds"][q]), _ms(r["latency_seconds"][q]),
                     "ratio " + _ratio(f["latency_ratio"][q])))
    rows.append(("throughput (1 / mean duration)", "", "", "ratio " + _ratio(f["throughput_ratio"])))
    rate = lambda x: "" if x is None else f"{x:.3f}/s"  # noqa: E731
    rows.append(("uploads per second (window)", rate(o["uploads_per_second"]), rate(r["uploads_per_second"]), ""))
    mw = f["mann_whitney"]
    if mw["p_value"] is not None:
        rows.append(("Mann-Whitney", "", "", f"p={mw['p_value']:.3g}, P(refactored slower)={mw['p_refactored_slower']:.3f}"))
    return rows


def write_json(report: Report, path: Path) -> dict:
    """ab-report.json."""
    doc = report.to_dict()
    path.write_text(json.dumps(doc, indent=2, sort_keys=False, allow_nan=False))
    return doc


def write_markdown(report: Report, doc: dict, path: Path) -> None:
    """ab-report.md."""
    w = doc["window"]
    lines = [f"# A/B report: **{doc['verdict']}**", "", f"Window {w['from']} to {w['to']}; generated {doc['generated_at']}.", ""]
    for route, r in doc["routes"].items():
        lines += [f"## Route {route}: **{r['verdict']}**", "", "| check | status | reason | more uploads |", "|---|---|---|---|"]
        lines += [f"| {c['check']} | {c['status']} | {c['reason']} | {c['more_uploads'] or ''} |" for c in r["checks"]]
        lines += ["", "| figure | original | refactored | refactored − original (95% CI) |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in figure_rows(r["figures"])]
        top = r["figures"]["shadow"]["top_fields"]
        if top:
            lines += ["", "Shadow mismatches by field: " + ", ".join(f"{t['field']} ({t['count']})" for t in top)]
        lines.append("")
    path.write_text("\n".join(lines))


def write_html(report: Report, doc: dict, path: Path, progress: Callable[[str], None] | None = None) -> None:
    """ab-report.html, plots drawn inline."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    routes = []
    for route, r in doc["routes"].items():
        if progress:
            progress(f"drawing the {route} plots")
        c, s = report.comparisons[route], report.samples[route]
        routes.append({
            "name": route, "verdict": r["verdict"], "checks": r["checks"], "rows": figure_rows(r["figures"]),
            "sectors": r["figures"]["sectors"], "shadow": r["figures"]["shadow"],
            "plots": {"latency": plots.latency_plot(s, f"{route}: latency"),
                      "rates": plots.rates_plot(c, f"{route}: rates over time"),
                      "decisions": plots.decisions_plot(c, f"{route}: decisions by reason"),
                      "shadow": plots.shadow_plot(c, f"{route}: shadow mismatches")},
        })
    w = doc["window"]
    path.write_text(env.get_template("ab_report.html").render(
        verdict=doc["verdict"], window_text=f"{w['from']} to {w['to']}", window_hours=w["seconds"] / 3600,
        generated=doc["generated_at"], thresholds=report.thresholds, routes=routes, pct=pct,
        source_text=", ".join(f"{k}: {v}" for k, v in doc["sources"].items()) or "database"))


def write_all(report: Report, out: Path, progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Write the three files into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"ab-report.{kind}" for kind in ("json", "md", "html")}
    doc = write_json(report, paths["json"])
    write_markdown(report, doc, paths["md"])
    write_html(report, doc, paths["html"], progress)
    return paths
