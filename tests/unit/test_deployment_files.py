"""docker-compose.yml and the Dockerfile agree with the code and with the servers the tests use.

No Docker engine runs here, so what can be checked without one is checked: the compose file
parses, every service command is a real `newsingest` subcommand, versions match.
"""

from __future__ import annotations

import os
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
    assert {"setup-files", "setup", "redis", "elasticsearch", "daemon", "worker", "api", "kibana"} <= set(compose["services"])
    assert compose["services"]["kibana"]["profiles"] == ["kibana"]


def test_compose_commands_are_real_cli_subcommands(compose: dict[str, Any]) -> None:
    for name in ("daemon", "worker", "api"):
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


def _settings_of(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in [key for key in os.environ if key.startswith("NEWSINGEST_")]:
        monkeypatch.delenv(key)
    for key, value in service["environment"].items():
        monkeypatch.setenv(key, re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value)))
    return Settings()


@pytest.mark.parametrize("service", ["daemon", "worker", "api"])
def test_compose_environment_is_valid_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    settings = _settings_of(compose["services"][service], monkeypatch)
    assert settings.mode == "distributed"
    # Secured by the settings themselves: TLS checked against the compose CA, secrets from files only.
    assert settings.elasticsearch_url is not None and settings.elasticsearch_url.startswith("https://")
    assert settings.elasticsearch.verify_certs is True
    assert settings.elasticsearch.ca_certs == Path("/run/newsingest/ca.crt")
    assert settings.elasticsearch.password is None and settings.elasticsearch.password_file is not None
    assert settings.api.token_file == Path("/run/newsingest/api-tokens") and settings.api.public is False


def test_compose_api_reads_as_the_reader_and_workers_write_as_the_writer(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = _settings_of(compose["services"]["api"], monkeypatch)
    assert api.elasticsearch.reader is not None
    assert api.elasticsearch.reader.username == "newsingest-reader"
    assert api.elasticsearch.reader.password_file == Path("/run/newsingest/reader-password")
    assert api.redis.password_file is None  # `serve` never talks to Redis
    worker = _settings_of(compose["services"]["worker"], monkeypatch)
    assert worker.elasticsearch.username == "newsingest-writer"
    assert worker.redis.password_file == Path("/run/newsingest/redis-password")
    assert worker.redis_url == "redis://newsingest@redis:6379/0"


def test_dockerfile_entry_point_is_the_console_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["newsingest"]' in dockerfile
    assert "--require-hashes" in dockerfile
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'newsingest = "ingest.cli:main"' in pyproject
