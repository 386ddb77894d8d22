"""Smoke tests of the benchmarks: each bench script runs at a tiny size and ends with the line its docstring
promises. Not timed tests: a figure is only checked to be a positive number, never compared with anything.

bench/web.py is not here: it has no option for a small size (1,000 domains are fixed) and always works in
var/bench-web, so a run of it is the benchmark itself (`make bench-web`), not a smoke test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import need
from tests.dns.bind import named_available

ROOT = Path(__file__).resolve().parent.parent


def last_line_of_bench(script: str, *args: str, tmp_path: Path, timeout: int = 180) -> str:
    """Run bench/<script> with its own var dir under tmp_path; returns the last line it printed."""
    env = dict(os.environ, MAILSETUP_VAR_DIR=str(tmp_path / "var"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines, f"bench/{script} printed nothing; stderr:\n{result.stderr[-3000:]}"
    return lines[-1]


def test_the_auth_bench_ends_with_a_positive_rate(tmp_path: Path) -> None:
    last = last_line_of_bench("auth.py", "--credentials", "50", "--logins", "200", tmp_path=tmp_path)
    match = re.fullmatch(r"auth_per_s=(\d+)", last)
    assert match, last
    assert int(match.group(1)) > 0
    # Its throwaway database went to the var dir it was given, not the project's var/bench.
    assert (tmp_path / "var" / "bench" / "auth.sqlite3").exists()


def test_the_verify_bench_ends_with_a_positive_ratio(tmp_path: Path) -> None:
    need(named_available(), "bind9's named")
    last = last_line_of_bench("verify.py", "--domains", "20", "--rounds", "1", tmp_path=tmp_path)
    match = re.fullmatch(r"ratio=(\d+\.\d+)", last)
    assert match, last
    assert float(match.group(1)) > 0
