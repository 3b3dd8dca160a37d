"""A burst of uploads through real gunicorn while PostgreSQL is kill -9'd and restarted and
gunicorn workers are kill -9'd: afterwards, once reconciled and retried, every file on
disk has exactly one record, every record's file exists, and nothing was applied twice."""

from __future__ import annotations

import functools

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text

from loadtests.csrf import CsrfSession
from app.workbook.generator import generate_workbook
from loadtests.multipart import encode_multipart
from tests.cli.test_serve import _workers, start_portal, stop_portal

HARNESS = Path(sys.executable).with_name("harness")
URLS = ("/upload_refactored", "/upload_original", "/upload_staged_refactored", "/upload_staged_original")


@functools.lru_cache(maxsize=None)
def csrf_headers(port: int) -> dict[str, str]:
    """The session cookie and CSRF token a script sends with its uploads (one per portal; its workers share the key)."""
    return CsrfSession.fetch(f"http://127.0.0.1:{port}").headers


def _post(port: int, url: str, data: bytes, name: str) -> str:
    body, content_type = encode_multipart(data, name)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", url, body=body, headers={"Content-Type": content_type, "Accept": "application/json",
                                                            **csrf_headers(port)})
        return str(connection.getresponse().status)
    except (ConnectionError, http.client.HTTPException, OSError) as error:
        return f"reset ({type(error).__name__})"
    finally:
        connection.close()


def _harness(env: dict, *argv: str) -> str:
    result = subprocess.run([str(HARNESS), *argv], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _wait_for_workers(master: int, count: int = 2, exclude: set[int] = frozenset()) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = _workers(master)
        if len(workers) >= count and not workers & exclude:
            return
        time.sleep(0.1)


def test_kill_postgresql_and_workers_mid_burst_then_every_file_has_one_record(tmp_path, own_postgres):
    n = 120
    workbooks = [generate_workbook("energy_v01_00", seed=100 + i, id_incidence=1_005_000 + i).data for i in range(n)]
    env_extra = dict(HARNESS_DATABASE_URL=own_postgres.url, HARNESS_FLAG_STORE_URL="memory://",
                     HARNESS_RECONCILE_INTERVAL_S="0", HARNESS_THREADS="4")
    base, instance, process = start_portal(tmp_path, **env_extra)
    port = int(base.rsplit(":", 1)[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "PROMETHEUS_"))}
    env.update(HARNESS_INSTANCE_PATH=str(instance), **env_extra)
    done = Counter()
    events: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> str:
        status = _post(port, URLS[i % len(URLS)], workbooks[i], f"burst-{i}.xlsx")
        with lock:
            done["n"] += 1
        return status

    def at(count: int) -> int:
        while done["n"] < count:
            time.sleep(0.002)
        return done["n"]

    def kill_worker(count: int, note: str = "") -> None:
        answered = at(count)
        victim = min(_workers(process.pid))
        os.kill(victim, signal.SIGKILL)
        events.append(f"worker {victim} kill -9 after {answered} answers{note}")

    def first_half() -> None:
        kill_worker(15)
        answered = at(35)
        own_postgres.kill()
        events.append(f"PostgreSQL kill -9 after {answered} answers")
        kill_worker(50, " (database down)")

    def second_half() -> None:
        kill_worker(n // 2 + 20)

    try:
        started = time.monotonic()
        statuses = []
        for half, sabotage_plan in ((range(n // 2), first_half), (range(n // 2, n), second_half)):
            sabotage = threading.Thread(target=sabotage_plan, daemon=True)
            sabotage.start()
            with ThreadPoolExecutor(6) as pool:
                statuses += list(pool.map(one, half))
            sabotage.join(60)
            if sabotage_plan is first_half:
                own_postgres.start()
                events.append(f"PostgreSQL restarted after {done['n']} answers")
                _wait_for_workers(process.pid)
        sabotage.join(60)
        burst_seconds = time.monotonic() - started
        _wait_for_workers(process.pid)
        answers = Counter(statuses)
        print(f"burst of {n} uploads in {burst_seconds:.1f} s: {dict(answers)}; {'; '.join(events)}")
        assert set(answers) <= {"200", "201", "503"} | {s for s in answers if s.startswith("reset")}

        reconciled = _harness(env, "uploads", "reconcile", "--older-than", "0")
        print(reconciled)
        engine = create_engine(own_postgres.url)
        with engine.connect() as conn:
            interrupted = [r[0] for r in conn.execute(text("SELECT id FROM uploaded_files WHERE status = 'interrupted'"))]
        retried = _harness(env, "uploads", "retry", *map(str, interrupted)) if interrupted else ""
        print(f"retried {len(interrupted)} interrupted upload(s)\n{retried}")
        with engine.connect() as conn:
            before = conn.execute(text("SELECT count(*) FROM portal_updates")).scalar_one()
        if interrupted:
            again = _harness(env, "uploads", "retry", *map(str, interrupted))
            assert again.count("nothing to do") == len(interrupted)

        uploads = instance / "uploads"
        on_disk = sorted(p.name for p in uploads.iterdir() if p.is_file() and not p.name.startswith(".partial-"))
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, path, status, route FROM uploaded_files WHERE path IS NOT NULL")).all()
            statuses_now = Counter(r.status for r in rows)
            incidences = conn.execute(text("SELECT id_incidence, created_at, updated_at FROM incidences")).all()
            processed = conn.execute(text("SELECT id_incidence FROM uploaded_files WHERE status = 'processed'")).scalars().all()
            after = conn.execute(text("SELECT count(*) FROM portal_updates")).scalar_one()
        engine.dispose()
        print(f"files on disk: {len(on_disk)}; records: {len(rows)} {dict(statuses_now)}; incidences: {len(incidences)}")
        # Every file on disk has exactly one record, and every record's file exists.
        assert sorted(r.path for r in rows) == on_disk
        assert not any(uploads.glob(".partial-*")) and not any((uploads / "journal").iterdir())
        # No record in limbo.
        assert statuses_now["received"] == 0 and statuses_now["interrupted"] == 0
        # Nothing applied twice: one processed record per incidence, each incidence written once
        # (a second merge would move updated_at), and a second retry changed nothing.
        assert len(processed) == len(set(processed))
        assert all(row.updated_at == row.created_at for row in incidences)
        assert set(processed) == {row.id_incidence for row in incidences}
        assert after == before
        # Every staged record has its one staged file.
        staged_files = sorted((uploads / "staging").iterdir())
        assert len(staged_files) == statuses_now["staged"]
    finally:
        stop_portal(process)
