"""The reconciler's schedule: a pass on demand, a thread per process, no pass when the database is gone."""

from __future__ import annotations

import threading

from app.harness.reconciler import Reconciler
from app.ingest.context import IngestContext
from app.ingest.database import Database, DatabaseTimeouts
from app.ingest.files import FileStore


def test_a_pass_reports_and_the_thread_runs_passes_until_closed(tmp_path, sqlite_url):
    files = FileStore(tmp_path / "uploads")
    files.ensure()
    db = Database(sqlite_url)
    reports = []
    ran = threading.Event()
    reconciler = Reconciler(IngestContext(db, files), older_than=300, interval=0.05,
                            on_report=lambda report: (reports.append(report), ran.set()))
    assert reconciler.run_once().interrupted_now == 0 and reconciler.last_report is reports[0]
    reconciler.start()
    reconciler.start()  # once per process
    assert ran.wait(15)
    reconciler.close()
    db.dispose()


def test_a_pass_with_the_database_gone_is_skipped_not_raised(tmp_path):
    files = FileStore(tmp_path / "uploads")
    files.ensure()
    db = Database("postgresql+psycopg://postgres@127.0.0.1:1/none", DatabaseTimeouts(statement=1, connect=2))
    reconciler = Reconciler(IngestContext(db, files), older_than=300, interval=0)
    assert reconciler.run_once() is None and reconciler.last_report is None
    reconciler.start()  # interval 0: no thread
    db.dispose()


def test_a_pass_with_the_upload_folder_gone_is_skipped(tmp_path, sqlite_url):
    files = FileStore(tmp_path / "uploads")
    files.ensure()
    (files.journal).rmdir()
    (files.journal).write_text("not a folder")
    db = Database(sqlite_url)
    assert Reconciler(IngestContext(db, files), older_than=0, interval=0).run_once() is None
    db.dispose()
