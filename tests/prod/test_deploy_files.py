"""The operator's files in deploy/ hold together: the systemd units pass `systemd-analyze verify`, the Procfile
runs two or more workers and exactly one beat, and every setting in env.example is one the app reads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import need
from tests.prod.topology import DEPLOY, ROOT, env_example, procfile

UNITS = ["mailsetup-web.service", "mailsetup-worker@.service", "mailsetup-beat.service"]


def test_the_procfile_runs_several_workers_and_exactly_one_beat() -> None:
    commands = procfile()
    workers = [c for c in commands.values() if re.search(r"\bcelery\b.*\bworker\b", c)]
    beats = [c for c in commands.values() if re.search(r"\bcelery\b.*\bbeat\b", c)]
    assert len(workers) >= 2
    assert len(beats) == 1
    assert not [c for c in workers if "--beat" in c or " -B" in c], "a worker with an embedded beat is a second beat"
    hostnames = [re.search(r"--hostname=(\S+)", c).group(1) for c in workers]
    assert len(set(hostnames)) == len(hostnames)
    # No `release:` line: Procfile runners (honcho, foreman) stop everything when one process exits.
    assert "release" not in commands
    assert commands["web"] == "deploy/release.sh && exec gunicorn --config deploy/gunicorn.conf.py"
    assert os.access(DEPLOY / "release.sh", os.X_OK)


def test_every_env_example_setting_is_read_by_the_app() -> None:
    sources = (ROOT / "mailsetup" / "settings.py").read_text() + (DEPLOY / "gunicorn.conf.py").read_text()
    unread = [name for name in env_example() if f'"{name}"' not in sources]
    assert unread == []


def test_the_units_run_one_beat_and_templated_workers() -> None:
    text = {name: (DEPLOY / name).read_text() for name in UNITS}
    assert "ExecStartPre=/opt/mailsetup/deploy/release.sh" in text["mailsetup-web.service"]
    assert "--hostname=worker%i@%H" in text["mailsetup-worker@.service"]
    assert re.search(r"^ExecStart=\S+/celery -A mailsetup beat\b", text["mailsetup-beat.service"], re.M)
    for name, unit in text.items():
        assert "EnvironmentFile=/etc/mailsetup/env" in unit, name
        assert "User=mailsetup" in unit, name


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze (Debian package systemd)")
    # As installed, but pointing at this checkout and the example settings, as root (no `mailsetup` user here).
    venv_bin = Path(sys.executable).parent
    for name in UNITS:
        unit = (DEPLOY / name).read_text()
        unit = unit.replace("/opt/mailsetup/.venv/bin", str(venv_bin)).replace("/opt/mailsetup", str(ROOT))
        unit = unit.replace("/etc/mailsetup/env", str(DEPLOY / "env.example"))
        unit = unit.replace("User=mailsetup", "User=root").replace("Group=mailsetup", "Group=root")
        (tmp_path / name).write_text(unit)
    (tmp_path / "mailsetup-worker@1.service").symlink_to(tmp_path / "mailsetup-worker@.service")
    names = [str(tmp_path / n) for n in ("mailsetup-web.service", "mailsetup-worker@1.service", "mailsetup-beat.service")]
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], capture_output=True, text=True,
                            timeout=60)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    assert output == ""
