"""Write the fault suite's last run (``.reliability/last-run.json``) into the README's reliability table.

    .venv/bin/pytest ct_ometria_tests/reliability && .venv/bin/python scripts/reliability_report.py

The table sits between the ``reliability:begin`` and ``reliability:end`` comments of README.md.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / ".reliability" / "last-run.json"
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- reliability:begin -->\n).*?(<!-- reliability:end -->)", re.S)


def table(report: dict) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [
        f"Last run: {report['at']} at commit `{commit or 'unknown'}`.",
        "",
        "| Scenario | Faults injected | Records | Lost | Stale | Parked | Duplicate side effects | First run | Rerun |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in report["rows"]:
        faults = ", ".join(f"{count} × {kind}" for kind, count in sorted(row["faults"].items())) or "none"
        lines.append(f"| {row['scenario']} | {faults} | {row['records']:,} | {row['lost']} | {row['stale']} | {row['parked']} "
                     f"| {row['duplicates']:,} | {row['first_run']} | {row['rerun']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    if not REPORT.exists():
        print(f"no report at {REPORT.relative_to(ROOT)}: run `.venv/bin/pytest ct_ometria_tests/reliability` first")
        return 1
    text = README.read_text()
    if not BLOCK.search(text):
        print("README.md has no reliability:begin/end block")
        return 1
    README.write_text(BLOCK.sub(lambda m: m.group(1) + table(json.loads(REPORT.read_text())) + m.group(2), text))
    print(f"README.md: reliability table from {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
