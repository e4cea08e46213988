"""docker-compose.yml and the Dockerfile agree with the code and with the servers the tests use.

No Docker engine runs here, so what can be checked without one is checked: the compose file
parses, every service command is a real `newsingest` subcommand, versions match.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from ingest.cli import _parser
from ingest.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    return document


def _services_script_es_version() -> str:
    match = re.search(r"ES_VERSION:-([0-9.]+)", (ROOT / "scripts" / "services.sh").read_text())
    assert match, "scripts/services.sh names no default ES_VERSION"
    return match.group(1)


def test_compose_has_the_distributed_services(compose: dict[str, Any]) -> None:
    assert {"redis", "elasticsearch", "daemon", "worker", "kibana"} <= set(compose["services"])
    assert compose["services"]["kibana"]["profiles"] == ["kibana"]


def test_compose_commands_are_real_cli_subcommands(compose: dict[str, Any]) -> None:
    for name in ("daemon", "worker"):
        command = compose["services"][name]["command"]
        _parser().parse_args(command)  # exits (SystemExit) on an unknown subcommand


def test_compose_elasticsearch_matches_the_tested_server_and_client(compose: dict[str, Any]) -> None:
    image_version = compose["services"]["elasticsearch"]["image"].rsplit(":", 1)[1]
    kibana_version = compose["services"]["kibana"]["image"].rsplit(":", 1)[1]
    assert image_version == kibana_version == _services_script_es_version()
    server_major_minor = image_version.split(".")[:2]
    client_major_minor = version("elasticsearch").split(".")[:2]
    assert client_major_minor[0] == server_major_minor[0]
    assert int(client_major_minor[1]) <= int(server_major_minor[1])


def test_compose_environment_is_valid_settings(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("daemon", "worker"):
        for key, value in compose["services"][service]["environment"].items():
            monkeypatch.setenv(key, re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value)))
        settings = Settings()
        assert settings.mode == "distributed"


def test_dockerfile_entry_point_is_the_console_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["newsingest"]' in dockerfile
    assert "--require-hashes" in dockerfile
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'newsingest = "ingest.cli:main"' in pyproject
