"""The deployment files: systemd units that systemd itself accepts, a compose file tuned for production."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
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


ALL_UNITS = ["newsingest-daemon.service", "newsingest-worker.service", "newsingest-api.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", ALL_UNITS)
def test_systemd_accepts_the_unit(name: str, tmp_path: Path) -> None:
    # The command path of an installation, pointed at this checkout's interpreter so it exists here.
    text = (UNITS / name).read_text(encoding="utf-8").replace(INSTALLED_COMMAND, sys.executable)
    (tmp_path / name).write_text(text, encoding="utf-8")
    verified = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr


@pytest.mark.parametrize("name", ALL_UNITS)
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


def _one_shot_services(compose: dict[str, Any]) -> set[str]:
    """Services others wait on until they have finished (set-up steps), not until they are healthy."""
    return {
        dependency
        for service in compose["services"].values()
        for dependency, rule in (service.get("depends_on") or {}).items()
        if rule == {"condition": "service_completed_successfully"}
    }


def test_compose_every_service_has_a_health_check_and_a_named_volume_where_it_keeps_data() -> None:
    compose = _compose()
    services = compose["services"]
    one_shots = _one_shot_services(compose)
    assert one_shots == {"setup-files", "setup"}
    assert all(services[name]["restart"] == "no" for name in one_shots)
    assert [name for name, service in services.items() if "healthcheck" not in service and name not in one_shots] == []
    for name, mount in (("redis", "/data"), ("elasticsearch", "/usr/share/elasticsearch/data"), ("daemon", "/data")):
        volumes = [v.split(":") for v in services[name]["volumes"]]
        assert any(target == mount and source in compose["volumes"] for source, target, *_ in volumes), name


def test_compose_documents_elasticsearch_heap_and_max_map_count() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "vm.max_map_count=262144" in text
    assert "-Xms1g -Xmx1g" in _compose()["services"]["elasticsearch"]["environment"]["ES_JAVA_OPTS"]


# --- Security of the deployment (issue 9): secure without extra steps -------------------------------

SETUP_SCRIPT = ROOT / "deploy" / "compose" / "setup.sh"
APP_SERVICES = ("daemon", "worker", "api")
SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET", "API_KEY", "ENCRYPTIONKEY")


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):  # the `- KEY=value` form
        environment = dict(item.partition("=")[::2] for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Container path -> (source, read-only) for each of a service's volumes."""
    mounts = {}
    for volume in service.get("volumes") or []:
        source, target, *options = volume.split(":")
        mounts[target] = (source, "ro" in options)
    return mounts


def test_compose_elasticsearch_runs_with_security_and_tls_on_both_layers() -> None:
    elasticsearch = _compose()["services"]["elasticsearch"]
    environment = _environment(elasticsearch)
    assert environment["xpack.security.enabled"] == "true"
    for layer in ("http", "transport"):
        assert environment[f"xpack.security.{layer}.ssl.enabled"] == "true", layer
        for part in ("key", "certificate", "certificate_authorities"):
            assert environment[f"xpack.security.{layer}.ssl.{part}"].startswith("certs/"), (layer, part)
    assert environment["xpack.security.transport.ssl.verification_mode"] != "none"
    # The certificates and elastic's password: the volume `setup-files` fills, read-only here.
    assert _mounts(elasticsearch)["/usr/share/elasticsearch/config/certs"] == ("es-secrets", True)
    assert environment["ELASTIC_PASSWORD_FILE"].startswith("/usr/share/elasticsearch/config/certs/")
    assert "ELASTIC_PASSWORD" not in environment
    # Its health check goes over TLS, verified against the CA, authenticated.
    check = " ".join(elasticsearch["healthcheck"]["test"])
    assert "https://localhost:9200" in check and "--cacert config/certs/ca.crt" in check
    assert "elastic:" in check and "-k" not in check.split() and "--insecure" not in check


def test_compose_mounts_the_one_roles_file_into_elasticsearch() -> None:
    mounts = _mounts(_compose()["services"]["elasticsearch"])
    assert mounts["/usr/share/elasticsearch/config/roles.yml"] == ("./deploy/elasticsearch/roles.yml", True)
    roles = YAML(typ="safe").load((ROOT / "deploy" / "elasticsearch" / "roles.yml").read_text(encoding="utf-8"))
    setup = SETUP_SCRIPT.read_text(encoding="utf-8")
    # The users the setup creates carry roles that file defines.
    for user, role in (("newsingest-writer", "newsingest_writer"), ("newsingest-reader", "newsingest_reader")):
        assert f"put_user {user} {role} " in setup, user
        assert role in roles, role


def test_compose_publishes_only_the_api_and_kibana_and_only_on_loopback() -> None:
    services = _compose()["services"]
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert set(published) == {"api", "kibana"}
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), (name, port)
    assert "ports" not in services["redis"] and "ports" not in services["elasticsearch"]


def test_compose_redis_requires_its_acl_user_and_its_health_check_authenticates() -> None:
    redis_service = _compose()["services"]["redis"]
    command = redis_service["command"]
    assert command[command.index("--aclfile") + 1] == "/run/newsingest/users.acl"
    assert _mounts(redis_service)["/run/newsingest"] == ("redis-secrets", True)
    check = " ".join(redis_service["healthcheck"]["test"])
    assert "REDISCLI_AUTH=" in check and "--user newsingest" in check
    assert "-a " not in check  # a password on the command line shows in the process list


def test_compose_setup_runs_first_and_the_services_wait_for_it() -> None:
    services = _compose()["services"]
    completed = {"condition": "service_completed_successfully"}
    for name in ("redis", "elasticsearch"):
        assert services[name]["depends_on"]["setup-files"] == completed, name
    assert services["setup"]["depends_on"]["elasticsearch"] == {"condition": "service_healthy"}
    for name in (*APP_SERVICES, "kibana"):
        assert services[name]["depends_on"]["setup"] == completed, name
        assert services[name]["depends_on"]["elasticsearch"] == {"condition": "service_healthy"}, name
    for name in ("setup-files", "setup"):
        service = services[name]
        assert service["image"] == services["elasticsearch"]["image"]  # it brings elasticsearch-certutil
        assert _mounts(service)["/usr/local/bin/newsingest-setup"] == ("./deploy/compose/setup.sh", True)
    assert services["setup-files"]["command"] == ["files"] and services["setup"]["command"] == ["users"]


def test_compose_keeps_every_secret_out_of_the_file_and_in_files_its_reader_alone_gets() -> None:
    compose = _compose()
    services = compose["services"]
    given = _files_the_setup_gives()  # volume -> the secret files setup.sh puts in it
    for name, service in services.items():
        for key, value in _environment(service).items():
            if any(word in key.upper() for word in SECRET_WORDS):
                assert key.endswith("_FILE"), f"{name}: {key} holds a secret inline"
            if key.endswith("_FILE") and value.startswith("/run/newsingest/"):
                source, read_only = _mounts(service)["/run/newsingest"]
                assert read_only, name
                assert value.removeprefix("/run/newsingest/") in given[source], (name, key)
    elastic_password = _environment(services["elasticsearch"])["ELASTIC_PASSWORD_FILE"]
    assert elastic_password.rsplit("/", 1)[1] in given["es-secrets"]
    # Least privilege: the API never holds the writer's password, the workers never the reader's,
    # nothing but Elasticsearch holds elastic's, nothing but the setup holds the CA key.
    assert "writer-password" not in given["api-secrets"] and "redis-password" not in given["api-secrets"]
    assert "reader-password" not in given["app-secrets"]
    assert [volume for volume, files in given.items() if "elastic-password" in files] == ["es-secrets"]
    assert not any("ca.key" in files for files in given.values())


def _files_the_setup_gives() -> dict[str, set[str]]:
    """setup.sh's `give "$X_DIR" UID file...` lines, by compose volume: X_DIR="$ROOT/x", and the setup
    services mount that volume at /secrets/x."""
    text = SETUP_SCRIPT.read_text(encoding="utf-8")
    folders = dict(re.findall(r'^([A-Z]+_DIR)="\$ROOT/([a-z]+)"', text, flags=re.MULTILINE))
    volumes = {target.removeprefix("/secrets/"): source for target, (source, _) in _mounts(_compose()["services"]["setup-files"]).items()}
    given: dict[str, set[str]] = {}
    for folder, files in re.findall(r'give "\$([A-Z]+_DIR)" "\$[A-Z_]+" (.+)$', text, flags=re.MULTILINE):
        given.setdefault(volumes[folders[folder]], set()).update(files.split())
    assert given, "no `give` lines found in setup.sh"
    return given


def test_compose_clients_reach_elasticsearch_over_verified_tls_with_their_own_identity() -> None:
    services = _compose()["services"]
    for name in APP_SERVICES:
        environment = _environment(services[name])
        assert environment["NEWSINGEST_ELASTICSEARCH_URL"].startswith("https://"), name
        assert environment["NEWSINGEST_ELASTICSEARCH__CA_CERTS"] == "/run/newsingest/ca.crt", name
        assert environment.get("NEWSINGEST_ELASTICSEARCH__VERIFY_CERTS", "true") == "true", name
        assert environment["NEWSINGEST_API__TOKEN_FILE"] == "/run/newsingest/api-tokens", name
    for name in ("daemon", "worker"):
        environment = _environment(services[name])
        assert environment["NEWSINGEST_ELASTICSEARCH__USERNAME"] == "newsingest-writer", name
        assert environment["NEWSINGEST_REDIS_URL"].startswith("redis://newsingest@"), name
        assert environment["NEWSINGEST_REDIS__PASSWORD_FILE"] == "/run/newsingest/redis-password", name
    api = _environment(services["api"])
    assert api["NEWSINGEST_ELASTICSEARCH__READER__USERNAME"] == api["NEWSINGEST_ELASTICSEARCH__USERNAME"] == "newsingest-reader"
    kibana = _environment(services["kibana"])
    assert kibana["ELASTICSEARCH_HOSTS"] == '["https://elasticsearch:9200"]'
    assert kibana["ELASTICSEARCH_SSL_VERIFICATIONMODE"] == "full"
    assert "ELASTICSEARCH_USERNAME" not in kibana and "ELASTICSEARCH_PASSWORD" not in kibana  # the service account
    assert "elasticsearch.serviceAccountToken" in (ROOT / "deploy" / "compose" / "kibana-start.sh").read_text()


def test_compose_application_containers_drop_every_capability() -> None:
    services = _compose()["services"]
    for name in APP_SERVICES:
        assert services[name]["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in services[name]["security_opt"], name


DISABLED_VERIFICATION = re.compile(
    r"verify_certs\s*[=:]\s*\"?false|VERIFY_CERTS\s*[=:]\s*\"?(false|0|no)\b|verification_mode\s*[=:]\s*\"?none"
    r"|curl\b[^\n]*\s(-k|--insecure)\b|xpack\.security\.enabled\s*[=:]\s*\"?false",
    re.IGNORECASE,
)


def test_no_deployment_file_turns_verification_or_security_off() -> None:
    files = [ROOT / "docker-compose.yml", ROOT / "Dockerfile", *sorted(p for p in (ROOT / "deploy").rglob("*") if p.is_file())]
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in files
        for match in DISABLED_VERIFICATION.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_pattern_catches_what_it_is_for() -> None:
    # The scan above passes on an empty match list: make sure the pattern finds the usual spellings.
    for text in ('NEWSINGEST_ELASTICSEARCH__VERIFY_CERTS: "false"', "verify_certs=False", "curl -k https://x",
                 "xpack.security.enabled: \"false\"", "verification_mode: none"):
        assert DISABLED_VERIFICATION.search(text), text


@pytest.mark.parametrize("name", ALL_UNITS)
def test_unit_loads_its_secrets_as_credentials_and_points_the_settings_at_them(name: str) -> None:
    unit = _unit(name)
    assert unit["User"] == ["newsingest"] and unit["Group"] == ["newsingest"]
    credentials = dict(line.split(":", 1) for line in unit["LoadCredential"])
    assert all(path.startswith("/etc/newsingest/credentials/") for path in credentials.values())
    pointed = {
        key: value
        for key, _, value in (line.partition("=") for line in unit["Environment"])
        if key.endswith("_FILE")
    }
    assert pointed, name
    for key, value in pointed.items():
        assert value.startswith("%d/"), key  # the service's private credentials directory
        assert value.removeprefix("%d/") in credentials, key
    assert "NEWSINGEST_API__TOKEN_FILE" in pointed
    # No secret in the unit itself.
    assert not [line for line in unit["Environment"] if "PASSWORD=" in line or "TOKEN=" in line]


def test_units_give_each_service_only_the_identity_it_needs() -> None:
    writers = [_unit(name)["LoadCredential"] for name in ("newsingest-daemon.service", "newsingest-worker.service")]
    api = _unit("newsingest-api.service")["LoadCredential"]
    assert all(any(line.endswith("/es-writer-password") for line in lines) for lines in writers)
    assert not any(line.endswith("/es-writer-password") or line.endswith("/redis-password") for line in api)
    assert any(line.endswith("/es-reader-password") for line in api)


def test_dockerfile_runs_as_a_non_root_user_and_bakes_in_no_secret() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert users[-1] == "10001:10001"
    assert "--uid 10001" in " ".join(lines)
    for line in lines:
        if line.startswith(("ENV ", "ARG ")):
            assert not any(word in line.upper() for word in SECRET_WORDS), line


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_deploy_scripts_pass_shellcheck() -> None:
    scripts = sorted((ROOT / "deploy").rglob("*.sh"))
    assert SETUP_SCRIPT in scripts
    checked = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout


# --- deploy/compose/setup.sh, run for real on its files phase (certificates pre-made: no Java needed) ---

# What each consumer's folder must hold, and nothing more.
EXPECTED_FILES = {
    "elasticsearch": {"ca.crt", "http.crt", "http.key", "elastic-password"},
    "app": {"ca.crt", "writer-password", "redis-password", "api-tokens"},
    "api": {"ca.crt", "reader-password", "api-tokens"},
    "redis": {"users.acl", "redis-password"},
    "kibana": {"ca.crt", "kibana-encryption-key"},
}
EXPECTED_OWNER = {"elasticsearch": 1000, "app": 10001, "api": 10001, "redis": 999, "kibana": 1000}


def _run_setup(root: Path, *arguments: str) -> str:
    done = subprocess.run(
        ["bash", str(SETUP_SCRIPT), *arguments],
        env={**os.environ, "SETUP_SECRETS_ROOT": str(root), "SETUP_ES_HOME": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def secrets_root(tmp_path: Path) -> Path:
    """A secrets root whose CA and certificate exist already, so the script does not call certutil."""
    state = tmp_path / "setup"
    state.mkdir()
    for name in ("ca.crt", "ca.key", "http.crt", "http.key"):
        (state / name).write_text(f"placeholder {name}\n", encoding="utf-8")
    return tmp_path


def test_setup_gives_each_service_only_its_own_secrets_readable_by_it_alone(secrets_root: Path) -> None:
    _run_setup(secrets_root, "files")
    for folder, expected in EXPECTED_FILES.items():
        directory = secrets_root / folder
        assert {path.name for path in directory.iterdir()} == expected, folder
        assert stat.S_IMODE(directory.stat().st_mode) == 0o500, folder
        for path in directory.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o400, path
            if os.geteuid() == 0:  # only root can hand files to other users (the container runs as root)
                assert path.stat().st_uid == EXPECTED_OWNER[folder], path
    passwords = [(secrets_root / "setup" / f"{name}-password").read_text() for name in ("elastic", "writer", "reader", "redis")]
    assert len(set(passwords)) == 4 and all(re.fullmatch(r"[0-9a-f]{48}", p) for p in passwords)
    assert (secrets_root / "app" / "writer-password").read_text() == passwords[1]


def test_setup_keeps_existing_secrets_and_rotates_one_on_request(secrets_root: Path) -> None:
    _run_setup(secrets_root, "files")
    before = {name: (secrets_root / "setup" / name).read_text() for name in ("writer-password", "redis-password", "api-tokens")}
    _run_setup(secrets_root, "files")  # every `docker-compose up` runs it again
    assert {name: (secrets_root / "setup" / name).read_text() for name in before} == before
    assert _run_setup(secrets_root, "show", "writer").strip() == before["writer-password"]
    acl_before = (secrets_root / "redis" / "users.acl").read_text()

    _run_setup(secrets_root, "rotate", "redis")
    rotated = (secrets_root / "setup" / "redis-password").read_text()
    assert rotated != before["redis-password"]
    assert (secrets_root / "app" / "redis-password").read_text() == rotated  # the clients get the new one
    assert (secrets_root / "redis" / "users.acl").read_text() != acl_before  # and so does Redis
    assert (secrets_root / "setup" / "writer-password").read_text() == before["writer-password"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def redis_with_setup_acl(secrets_root: Path) -> Iterator[tuple[int, str]]:
    """A redis-server of the test's own, started as the compose file starts it: with setup's ACL file."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: scripts/services.sh up installs it", pytrace=False)
    _run_setup(secrets_root, "files")
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--aclfile", str(secrets_root / "redis" / "users.acl")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"redis-server with the setup's ACL file did not start on port {port}")
                time.sleep(0.1)
        yield port, (secrets_root / "app" / "redis-password").read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_redis_with_the_setup_acl_refuses_anonymous_clients_and_admits_the_newsingest_user(
    redis_with_setup_acl: tuple[int, str],
) -> None:
    port, password = redis_with_setup_acl
    anonymous = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    wrong = redis.Redis(host="127.0.0.1", port=port, username="newsingest", password="0" * 48, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    # The URL form the compose file gives the services, with the password from the file.
    client = redis.Redis.from_url(f"redis://newsingest:{password}@127.0.0.1:{port}/0", socket_timeout=5)
    assert client.ping()
    client.rpush("newsingest:test", "job")
    assert client.lpop("newsingest:test") == b"job"
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.config_get("maxmemory")  # no admin commands
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("other-app:key", "x")  # nothing outside the project's key prefix
    for connection in (anonymous, wrong, client):
        connection.close()


def test_the_compose_redis_acl_is_the_one_the_secured_tests_prove_enough() -> None:
    from ingest.redis_connect import acl_rules

    setup = (ROOT / "deploy" / "compose" / "setup.sh").read_text()
    assert acl_rules("newsingest:", 0) in setup
