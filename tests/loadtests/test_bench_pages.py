"""The pages benchmark runs end to end on a small database (its figures are not asserted)."""

from __future__ import annotations

import json

from loadtests import bench_pages


def test_the_pages_benchmark_fills_measures_and_writes_its_figures(tmp_path):
    out = tmp_path / "bench_pages.json"
    figures = bench_pages.main(["--records", "700", "--small", "600", "--repeats", "1", "--out", str(out)])
    assert set(figures["sqlite"]) == {600, 700}
    assert all(v["p50_ms"] > 0 for v in figures["sqlite"][700].values())
    assert "facility not found" in out.with_suffix(".md").read_text()
    assert json.loads(out.read_text())["records"] == 700
