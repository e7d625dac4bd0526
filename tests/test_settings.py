"""Production mode: refuses to start without a secret, and passes `check --deploy`."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "TICKSTREAM_", "SECRET_KEY"))
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: object) -> None:
    result = _manage("check", env={"TICKSTREAM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path: object) -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
            "ALLOWED_HOSTS": "markets.example.org",
            "TICKSTREAM_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_documented_split_layout_settings_pass_the_deploy_check(tmp_path: object) -> None:
    """The environment file of docs/deployment.md (PostgreSQL, Redis, an external feed
    process), exactly as printed there, passes `check --deploy`."""
    import re

    text = (ROOT / "docs" / "deployment.md").read_text()
    block = re.search(r"```ini\n# /etc/tickstream/env\n(.*?)```", text, re.S)
    assert block, "docs/deployment.md shows the production environment file"
    env = dict(line.split("=", 1) for line in block.group(1).splitlines() if "=" in line)
    assert {"DATABASE_URL", "REDIS_URL", "FEEDS_MODE", "SECRET_KEY"} <= set(env)
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env={**env, "TICKSTREAM_VAR_DIR": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_procfile_runs_the_split_layout() -> None:
    lines = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert lines["feeds"] == "python manage.py runfeeds"
    assert "--no-prepare" in lines["web"] and "$PORT" in lines["web"]
    assert "migrate" in lines["release"]


def test_env_example_lists_every_variable_the_settings_read() -> None:
    import re

    source = (ROOT / "tickstream" / "settings.py").read_text()
    read = set(re.findall(r'env\.(?:str|bool|int|float|list)\(\s*"([A-Z_]+)"', source))
    read |= set(re.findall(r'"([A-Z_]+)" in env', source))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "the settings read no variables?"
    assert read <= listed, sorted(read - listed)
