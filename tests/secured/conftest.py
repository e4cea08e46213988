"""The secured Elasticsearch (`scripts/services.sh up --secure`): HTTPS with the services' CA, users in
the file realm (admin, newsingest-writer, newsingest-reader) whose passwords the script wrote.

Run alone: `scripts/services.sh up --secure && pytest -m secured tests/secured` (scripts/test.sh does
it after the main run). Without that server these tests fail under CI=true and are skipped otherwise,
naming the command that starts it.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch, TransportError

from tests.installation import drop_alias


SERVICES_HOME = Path(os.environ.get("NEWSINGEST_SERVICES_HOME", "/var/lib/newsingest-dev"))
SECURE_DIR = SERVICES_HOME / "elasticsearch-secure"
URL = f"https://127.0.0.1:{os.environ.get('NEWSINGEST_ES_PORT', '9200')}"
WRITER, READER, ADMIN = "newsingest-writer", "newsingest-reader", "admin"


@dataclass(frozen=True)
class SecuredElastic:
    url: str
    ca_file: Path

    def password_file(self, user: str) -> Path:
        return SECURE_DIR / f"{user}.password"

    def password(self, user: str) -> str:
        return self.password_file(user).read_text(encoding="utf-8").strip()

    def client(self, user: str, **options: Any) -> Elasticsearch:
        return Elasticsearch(
            self.url, basic_auth=(user, self.password(user)), ca_certs=str(self.ca_file), request_timeout=60, **options
        )

    def env(self, writer: str = WRITER, reader: str | None = READER) -> dict[str, str]:
        """Settings for a newsingest that writes as `writer` and reads as `reader`, passwords in files."""
        env = {
            "NEWSINGEST_ELASTICSEARCH_URL": self.url,
            "NEWSINGEST_ELASTICSEARCH__CA_CERTS": str(self.ca_file),
            "NEWSINGEST_ELASTICSEARCH__USERNAME": writer,
            "NEWSINGEST_ELASTICSEARCH__PASSWORD_FILE": str(self.password_file(writer)),
        }
        if reader is not None:
            env["NEWSINGEST_ELASTICSEARCH__READER__USERNAME"] = reader
            env["NEWSINGEST_ELASTICSEARCH__READER__PASSWORD_FILE"] = str(self.password_file(reader))
        return env


@pytest.fixture(scope="session")
def secured_es() -> SecuredElastic:
    server = SecuredElastic(URL, SECURE_DIR / "ca.crt")
    problem: Exception | None = None
    try:
        with server.client(ADMIN) as admin:
            admin.cluster.health(wait_for_status="yellow", timeout="30s")
    except (ApiError, TransportError, OSError) as exc:
        problem = exc
    if problem is not None:
        message = (
            f"the secured Elasticsearch does not answer at {URL} with the CA and admin password under "
            f"{SECURE_DIR}: start it with scripts/services.sh up --secure ({type(problem).__name__}: {problem})"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return server


@pytest.fixture(scope="session")
def admin(secured_es: SecuredElastic) -> Iterator[Elasticsearch]:
    client = secured_es.client(ADMIN)
    yield client
    client.close()


@pytest.fixture(scope="module")
def news_alias(admin: Elasticsearch) -> Iterator[str]:
    """A fresh alias inside the roles' `news-*` pattern; its indices and template go afterwards."""
    alias = f"news-sec{uuid.uuid4().hex[:8]}"
    yield alias
    drop_alias(admin, alias)


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that signed nothing the server has: trusting it must not make the server trusted."""
    folder = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=not the services CA",
         "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.crt")],
        check=True, capture_output=True,
    )
    return folder / "ca.crt"
