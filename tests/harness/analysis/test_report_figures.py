"""On a small known data set, the report's JSON figures equal a count by hand, whether the
samples come from plain rows or from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from app.harness.analysis import loading
from app.harness.analysis.evidence import PercentHistory
from app.harness.analysis.report import build_report
from app.harness.analysis.samples import samples_from_rows
from app.harness.analysis.window import Window
from app.ingest.database import Database
from app.ingest.models import UploadedFile

START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
WINDOW = Window(START, START + dt.timedelta(hours=1))
# (minutes in, route, path, status, error_type, duration, sector, user, reason)
ROWS = [
    (1, "direct", "original", "processed", None, 0.1, "Energy", "u1", "off"),
    (2, "direct", "original", "processed", None, 0.2, "Energy", "u2", "off"),
    (3, "direct", "original", "processed", None, 0.3, "Landfill", "u1", "off"),
    (4, "direct", "original", "processed", None, 0.4, "Landfill", "u3", "pinned"),
    (5, "direct", "original", "failed", "processing_error", 0.5, "Energy", "u2", "off"),
    (6, "direct", "original", "failed", "validation_error", 0.05, None, "u3", "off"),
    (7, "direct", "original", "received", None, None, None, "u4", "off"),
    (8, "direct", "refactored", "processed", None, 0.01, "Energy", "u5", "percentage"),
    (9, "direct", "refactored", "processed", None, 0.02, "Landfill", "u5", "percentage"),
    (10, "direct", "refactored", "staged", None, 0.03, "Energy", "u6", "percentage"),
    (11, "direct", "refactored", "failed", "database_error", 0.04, "Energy", "u6", "percentage"),
    (12, "direct", "refactored", "rejected", "file_error", 0.001, None, "u7", "allow_list"),
    (13, "staged", "original", "staged", None, 0.2, "Energy", "u1", "off"),
    (90, "direct", "original", "processed", None, 9.9, "Energy", "u9", "off"),  # outside the window
]


def _epoch_rows():
    return [((START + dt.timedelta(minutes=m)).timestamp(), *rest) for m, *rest in ROWS]


def _report(samples):
    return build_report(samples, WINDOW, now=WINDOW.end, percents={"direct": PercentHistory((), 50.0),
                                                                   "staged": PercentHistory((), 0.0)}).to_dict()


def _check_by_hand(doc: dict) -> None:
    direct = doc["routes"]["direct"]["figures"]
    o, r = direct["original"], direct["refactored"]
    assert (o["uploads"], o["settled"], o["pending"]) == (7, 6, 1)
    assert (o["success"]["count"], o["server_error"]["count"], o["client_error"]["count"]) == (4, 1, 1)
    assert (r["uploads"], r["settled"], r["pending"]) == (5, 5, 0)
    assert (r["success"]["count"], r["server_error"]["count"], r["client_error"]["count"]) == (3, 1, 1)
    assert o["success"]["rate"] == pytest.approx(4 / 6) and r["server_error"]["rate"] == pytest.approx(1 / 5)
    assert direct["refactored_minus_original"]["server_error_rate"]["difference"] == pytest.approx(1 / 5 - 1 / 6)
    # durations of settled uploads: original 0.05..0.5 (six), refactored 0.001..0.04 (five)
    assert o["latency_seconds"]["p50"]["value"] == pytest.approx(0.25)
    assert r["latency_seconds"]["p50"]["value"] == pytest.approx(0.02)
    assert o["mean_seconds"] == pytest.approx(1.55 / 6) and r["mean_seconds"] == pytest.approx(0.101 / 5)
    assert direct["decisions"] == {"allow_list": {"original": 0, "refactored": 1}, "off": {"original": 6, "refactored": 0},
                                   "percentage": {"original": 0, "refactored": 4}, "pinned": {"original": 1, "refactored": 0}}
    sectors = {s["sector"]: (s["original"]["uploads"], s["refactored"]["uploads"]) for s in direct["sectors"]}
    assert sectors == {"Energy": (3, 3), "Landfill": (2, 1), "(unknown)": (1, 1)}
    # users routed by the percentage, each counted once at their last upload: u1 u2 u3 u4 / u5 u6
    assert direct["sample_ratio"]["observed"] == {"original": 4, "refactored": 2}
    assert direct["sample_ratio"]["expected"] == {"original": 3.0, "refactored": 3.0}
    staged = doc["routes"]["staged"]["figures"]
    assert staged["original"]["uploads"] == 1 and staged["refactored"]["uploads"] == 0
    assert doc["routes"]["direct"]["verdict"] == "inconclusive"  # far fewer than 30 uploads a path
    assert doc["verdict"] == "inconclusive"


def test_figures_from_rows_equal_the_hand_count():
    _check_by_hand(_report(samples_from_rows(_epoch_rows(), WINDOW.start.timestamp(), WINDOW.end.timestamp())))


def test_figures_from_the_database_equal_the_hand_count(database_url):
    db = Database(database_url)
    with db.transaction(write=True) as conn:
        conn.execute(insert(UploadedFile.__table__), [
            {"original_filename": "f.xlsx", "status": status, "error_type": error_type, "route": route,
             "ingest_path": path, "user": user, "duration_seconds": duration, "sector": sector,
             "decision_reason": reason, "created_at": START + dt.timedelta(minutes=m),
             "updated_at": START + dt.timedelta(minutes=m)}
            for m, route, path, status, error_type, duration, sector, user, reason in ROWS])
    samples = loading.load_samples(db.engine, WINDOW)
    _check_by_hand(_report(samples))
    only_direct = loading.load_samples(db.engine, WINDOW, "direct")
    assert list(only_direct) == ["direct"] and len(only_direct["direct"].original) == 7
    db.dispose()


def test_the_percent_history_comes_from_the_flag_audit():
    from flags.audit import AuditEntry

    def entry(minutes, old, new):
        return AuditEntry("refactored_upload", "percent", "ops", START + dt.timedelta(minutes=minutes), old, new)

    history = loading.percent_history([entry(-30, 0, 25), entry(20, 25, 50), entry(200, 50, 75)], WINDOW, current=75)
    assert history.initial == 25 and [p for _, p in history.changes] == [50.0]
    import numpy as np

    assert list(history.at(np.array([START.timestamp() + 60, START.timestamp() + 1500]))) == [25.0, 50.0]
