"""A small run of the latency benchmark, so the script cannot rot: the Dagster daemon evaluates the
event sensors on a 2-second interval and every change reaches the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_latency_benchmark_runs_and_every_change_arrives(tmp_path):
    figures = tmp_path / "latency.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "latency.py"), "--minutes", "0.25", "--interval", "2", "--gap", "1.5",
         "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=420,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(figures.read_text())
    assert result["never_arrived"] == 0 and result["changes"] >= 4
    for path in ("message", "storefront"):
        assert 0 < result[path]["p50"] <= result[path]["p95"] <= result[path]["max"] < 120
