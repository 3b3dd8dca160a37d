"""Ingestion benchmark: the bare-parse floor, the original path and the refactored path,
measured side by side in one run.

    python -m loadtests.bench_ingest [--rounds 15] [--out results/bench_ingest.json]

Per upload of each workbook in the corpus (the shared ARB samples when `../shared` is
there, else generated workbooks for every schema):

(a) floor: python-calamine reading just the cells the form needs (the `_json_schema` and
    `_json_metadata` tables and the form's rows), no checks, no casting;
(b) original: `POST /upload_original` through the app: a WSGI call with a prepared
    environ, as a server makes it (not Flask's test client, whose own request building
    and cookie handling cost about as much as the floor), on real SQLite;
(c) refactored: `POST /upload_refactored`, likewise.

Rounds interleave the three, in a rotating order, over the same workbooks, so drift on a
shared machine lands on all three alike. Throughput is uploads per second of one worker
(1 / mean latency). Targets (issue 2): refactored >= 3x the original's throughput, and
refactored latency within 5x the floor.
"""

from __future__ import annotations

import argparse
import gc
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from app.compose import services_of
from loadtests.results import publish

ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = ROOT.parent / "shared" / "arb_forms" / "samples"


def corpus() -> tuple[str, list[tuple[str, bytes]]]:
    """(source, [(name, bytes)]): the shared samples, else generated workbooks."""
    samples = sorted(SHARED_SAMPLES.glob("*.xlsx")) if SHARED_SAMPLES.is_dir() else []
    if samples:
        return "shared ARB samples", [(p.stem, p.read_bytes()) for p in samples]
    from app.forms import all_schemas
    from app.workbook.generator import generate_workbook

    items = [(f"{s.name}-{v}", generate_workbook(s.name, v, seed=n).data)
             for n, s in enumerate(all_schemas()) for v in ("good", "bad")]
    return "generated workbooks", items


def floor_read(data: bytes) -> int:
    """Read just the needed cells with calamine; returns a count so nothing is optimised away."""
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    cells = 0
    for name in ("_json_schema", "_json_metadata"):
        for row in wb.get_sheet_by_name(name).iter_rows():
            cells += len(row)
    for n, row in enumerate(wb.get_sheet_by_name("Feedback Form").iter_rows()):
        cells += len(row[:4])
        if n >= 100:
            break
    return cells


def wsgi_csrf(app) -> dict[str, str]:
    """The session cookie and CSRF token a script sends with its POSTs (`GET /csrf_token` through WSGI)."""
    cached = app.extensions.get("bench_csrf")
    if cached is None:
        from loadtests.csrf import TOKEN_PATH, token_from

        status: list[str] = []
        headers: list = []
        environ = _environ("GET", TOKEN_PATH, b"", "")
        chunks = app(environ, lambda s, h, exc_info=None: (status.append(s), headers.extend(h)))
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        token, cookie = token_from(int(status[0].split()[0]), body, [v for k, v in headers if k.lower() == "set-cookie"])
        cached = app.extensions["bench_csrf"] = {"HTTP_X_CSRFTOKEN": token, "HTTP_COOKIE": cookie}
    return cached


def _environ(method: str, path: str, body: bytes, content_type: str) -> dict:
    return {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)), "HTTP_ACCEPT": "application/json",
        "HTTP_HOST": "127.0.0.1:5000", "REMOTE_ADDR": "127.0.0.1", "HTTP_X_PORTAL_USER": "bench-user",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }


def wsgi_post(app, path: str, body: bytes, content_type: str) -> tuple[int, str]:
    """POST through the app's WSGI interface, as a server would (with the CSRF token); returns (status, body)."""
    environ = {**_environ("POST", path, body, content_type), **wsgi_csrf(app)}
    status: list[str] = []
    chunks = app(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        text = b"".join(chunks).decode("utf-8", "replace")
    finally:
        getattr(chunks, "close", lambda: None)()
    return int(status[0].split()[0]), text


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    mean = statistics.fmean(ordered)
    return {"n": len(ordered), "mean_ms": mean * 1000, "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99),
            "throughput_per_s": 1 / mean}


def run(rounds: int) -> dict[str, Any]:
    """Measure the three variants over `rounds` interleaved rounds."""
    from app import create_app
    from app.config import Settings
    from app.ingest.database import Database
    from loadtests.multipart import encode_multipart as multipart

    source, items = corpus()
    # Inside the project, where the embedded default keeps its instance folder (on this
    # machine /tmp creates files ten times slower than the project's disk).
    scratch = ROOT / "results"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir=scratch) as tmp:
        instance = Path(tmp)
        url = f"sqlite:///{instance}/portal.db"
        Database(url).upgrade()
        settings = Settings(instance_path=instance, database_url=url, flag_store_url="memory://",
                            upload_folder=instance / "uploads", secret_key="bench-" + "k" * 40, environment="test",
                            trust_user_header=True)  # as in production, behind the authenticating proxy
        app = create_app(settings=settings)
        bodies = [(name, data, multipart(data, f"{name}.xlsx")) for name, data in items]

        def post(url_path: str, body: tuple[bytes, str]) -> None:
            status, text = wsgi_post(app, url_path, body[0], body[1])
            if status >= 500:
                raise RuntimeError(f"{url_path}: {status} {text[:200]}")

        variants = {
            "floor": lambda data, body: floor_read(data),
            "original": lambda data, body: post("/upload_original", body),
            "refactored": lambda data, body: post("/upload_refactored", body),
        }
        for _, data, body in bodies:  # warm up every code path once
            for call in variants.values():
                call(data, body)
        timings: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        gc.collect()
        for r in range(rounds):
            for _, data, body in bodies:
                for name in order:
                    started = time.perf_counter()
                    variants[name](data, body)
                    timings[name].append(time.perf_counter() - started)
            order = order[1:] + order[:1]
        services_of(app).db.dispose()

    results = {name: _summary(values) for name, values in timings.items()}
    results["ratios"] = {
        "refactored_vs_original_throughput": results["refactored"]["throughput_per_s"] / results["original"]["throughput_per_s"],
        "refactored_vs_floor_latency": results["refactored"]["mean_ms"] / results["floor"]["mean_ms"],
        "refactored_vs_floor_p50": results["refactored"]["p50_ms"] / results["floor"]["p50_ms"],
    }
    results["corpus"] = {"source": source, "workbooks": len(items), "rounds": rounds}
    return results


def render(results: dict[str, Any]) -> str:
    """A Markdown table of the figures."""
    lines = [f"Corpus: {results['corpus']['workbooks']} {results['corpus']['source']} x {results['corpus']['rounds']} rounds, "
             "interleaved; one worker, SQLite.", "",
             "| variant | p50 ms | p95 ms | p99 ms | mean ms | uploads/s |", "|---|---|---|---|---|---|"]
    for name in ("floor", "original", "refactored"):
        r = results[name]
        lines.append(f"| {name} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['mean_ms']:.2f} | {r['throughput_per_s']:.0f} |")
    ratios = results["ratios"]
    lines += ["",
              f"- refactored / original throughput: **{ratios['refactored_vs_original_throughput']:.1f}x** (target >= 3x)",
              f"- refactored / floor latency (mean): **{ratios['refactored_vs_floor_latency']:.1f}x** (target <= 5x); "
              f"at p50 {ratios['refactored_vs_floor_p50']:.1f}x"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print and write the figures, and return them."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_ingest")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_ingest.json"))
    args = parser.parse_args([] if argv is None else argv)
    results = run(args.rounds)
    publish(args.out, results, render(results))
    return results


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
