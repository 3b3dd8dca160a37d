"""Ingestion benchmark: the bare-parse floor, the original path and the refactored path,
measured side by side in one run; and the readers that could serve the refactored path.

    python -m loadtests.bench_ingest [--rounds 15] [--out results/bench_ingest.json]

Per upload of each workbook in the corpus (the shared ARB samples when `../shared` is
there, else generated workbooks for every schema):

(a) floor: the lean reader (`app.workbook.lean`, the refactored path's) reading just the
    cells the form needs (the `_json_schema` and `_json_metadata` tables and the form's
    rows), no checks, no casting. It has the fidelity the paths need (an empty cell apart
    from an empty string, openpyxl's values), so the ratio is against a reader that could
    do the job; python-calamine, faster but unable to tell the two cells apart, is
    measured beside it as a reader candidate only;
(b) original: `POST /upload_original` through the app: a WSGI call with a prepared
    environ, as a server makes it (not Flask's test client, whose own request building
    and cookie handling cost about as much as the floor), on real SQLite;
(c) refactored: `POST /upload_refactored`, likewise.

Rounds interleave the three, in a rotating order, over the same workbooks, so drift on a
shared machine lands on all three alike. Throughput is uploads per second of one worker
(1 / mean latency). Targets (issue 2): refactored >= 3x the original's throughput, and
refactored latency within 5x the floor.

Reader candidates (`--readers`, on by default): each reads the same cells of the same
workbooks, interleaved the same way, and is probed for whether it tells an empty cell
from an empty-string cell: python-calamine, openpyxl read-only, openpyxl full load, the
lean reader.
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
from app.workbook.lean import LeanReader
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


FORM_SHEETS = ("_json_schema", "_json_metadata", "Feedback Form")


def floor_read(data: bytes) -> int:
    """Read just the needed cells with the lean reader; returns a count so nothing is optimised away."""
    reader = LeanReader(data)
    cells = 0
    for name in FORM_SHEETS[:2]:
        for row in reader.rows(name, 1, 3, normalized=False):
            cells += len(row)
    for n, row in enumerate(reader.rows("Feedback Form", 1, 4, normalized=False)):
        cells += len(row)
        if n >= 100:
            break
    return cells


def calamine_read(data: bytes) -> int:
    """The same cells with python-calamine (the refactored path's reader before issue 10)."""
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


def _openpyxl_read(data: bytes, read_only: bool) -> int:
    import warnings

    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True, read_only=read_only)
    cells = 0
    for name in FORM_SHEETS[:2]:
        for row in wb[name].iter_rows(max_col=3, values_only=True):
            cells += len(row)
    for row in wb["Feedback Form"].iter_rows(max_row=101, max_col=4, values_only=True):
        cells += len(row)
    return cells


def _probe_cells(read_first_row) -> bool:
    """Whether a reader tells an empty cell (A1) from a cell holding an empty string (B1)."""
    from app.workbook.rawbook import Cell, write_workbook

    data = write_workbook({"Probe": {(1, 1): Cell("styled_empty"), (1, 2): Cell("shared", ""), (1, 3): Cell("shared", "x")}})
    empty, empty_string = read_first_row(data)[:2]
    return empty is None and empty_string == ""


def _first_row_calamine(data: bytes) -> tuple:
    ws = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Probe")
    return tuple(next(iter(ws.iter_rows())))


def _first_row_openpyxl(read_only: bool):
    def read(data: bytes) -> tuple:
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True, read_only=read_only)
        return next(wb["Probe"].iter_rows(max_col=3, values_only=True))
    return read


# name -> (read the form's cells, read the probe's first row)
READER_CANDIDATES = {
    "python-calamine": (calamine_read, _first_row_calamine),
    "openpyxl read-only": (lambda data: _openpyxl_read(data, True), _first_row_openpyxl(True)),
    "openpyxl full load": (lambda data: _openpyxl_read(data, False), _first_row_openpyxl(False)),
    "lean (sheet XML)": (floor_read, lambda data: next(LeanReader(data).rows("Probe", 1, 3, normalized=False))),
}


def measure_readers(items: list[tuple[str, bytes]], rounds: int) -> dict[str, Any]:
    """Each reader candidate on the same workbooks, interleaved, and whether it has the fidelity."""
    timings: dict[str, list[float]] = {name: [] for name in READER_CANDIDATES}
    order = list(READER_CANDIDATES)
    for _, data in items:
        for read, _ in READER_CANDIDATES.values():
            read(data)
    for _ in range(rounds):
        for _, data in items:
            for name in order:
                started = time.perf_counter()
                READER_CANDIDATES[name][0](data)
                timings[name].append(time.perf_counter() - started)
        order = order[1:] + order[:1]
    return {name: {**_summary(timings[name]), "tells_empty_from_empty_string": _probe_cells(probe)}
            for name, (_, probe) in READER_CANDIDATES.items()}


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


def run(rounds: int, reader_rounds: int = 0) -> dict[str, Any]:
    """Measure the three variants over `rounds` interleaved rounds (and the reader
    candidates over `reader_rounds`)."""
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
    if reader_rounds:
        results["readers"] = measure_readers(items, reader_rounds)
        results["corpus"]["reader_rounds"] = reader_rounds
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
    if "readers" in results:
        lines += ["", f"Reader candidates, the same cells of the same workbooks x {results['corpus']['reader_rounds']} rounds:",
                  "", "| reader | p50 ms | mean ms | tells an empty cell from an empty string |", "|---|---|---|---|"]
        for name, r in results["readers"].items():
            lines.append(f"| {name} | {r['p50_ms']:.2f} | {r['mean_ms']:.2f} | "
                         f"{'yes' if r['tells_empty_from_empty_string'] else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print and write the figures, and return them."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_ingest")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--reader-rounds", type=int, default=3, help="rounds of the reader candidates (0: skip them)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_ingest.json"))
    args = parser.parse_args([] if argv is None else argv)
    results = run(args.rounds, args.reader_rounds)
    publish(args.out, results, render(results))
    return results


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
