"""The deployment files: systemd units that systemd itself accepts, a compose file tuned for production."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED_COMMAND = "/opt/newsingest/.venv/bin/newsingest"


def _unit(name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return loaded


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", ["newsingest-daemon.service", "newsingest-worker.service"])
def test_systemd_accepts_the_unit(name: str, tmp_path: Path) -> None:
    # The command path of an installation, pointed at this checkout's interpreter so it exists here.
    text = (UNITS / name).read_text(encoding="utf-8").replace(INSTALLED_COMMAND, sys.executable)
    (tmp_path / name).write_text(text, encoding="utf-8")
    verified = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr


@pytest.mark.parametrize("name", ["newsingest-daemon.service", "newsingest-worker.service"])
def test_unit_runs_as_a_dedicated_user_restarts_on_failure_and_is_hardened(name: str) -> None:
    unit = _unit(name)
    assert unit["User"] == ["newsingest"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["StartLimitBurst"] and unit["StartLimitIntervalSec"]
    assert unit["RestartPreventExitStatus"] == ["2"]  # a configuration error is not retried
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert unit[option] == ["yes"], option
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/var/lib/newsingest"]
    assert unit["EnvironmentFile"] == ["/etc/newsingest/newsingest.env"]


def test_daemon_unit_reloads_with_sighup() -> None:
    assert _unit("newsingest-daemon.service")["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_compose_redis_keeps_the_queue_and_is_not_published() -> None:
    redis = _compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "ports" not in redis


def test_compose_every_service_has_a_health_check_and_a_named_volume_where_it_keeps_data() -> None:
    compose = _compose()
    services = compose["services"]
    assert [name for name, service in services.items() if "healthcheck" not in service] == []
    for name, mount in (("redis", "/data"), ("elasticsearch", "/usr/share/elasticsearch/data"), ("daemon", "/data")):
        volumes = [v.split(":") for v in services[name]["volumes"]]
        assert any(target == mount and source in compose["volumes"] for source, target, *_ in volumes), name


def test_compose_documents_elasticsearch_heap_and_max_map_count() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "vm.max_map_count=262144" in text
    assert "-Xms1g -Xmx1g" in _compose()["services"]["elasticsearch"]["environment"]["ES_JAVA_OPTS"]
