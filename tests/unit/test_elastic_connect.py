"""workers/index/connect.py without a server: which credentials each purpose sends, and refused settings.

API keys cannot be tested for real here (the server-core distribution has no `.security` index, see
DESIGN.md), so the header the client would send is checked instead.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, AuthenticationException, AuthorizationException
from pydantic import SecretStr

from ingest.secrets import SecretError
from ingest.settings import Credentials, ElasticsearchSettings, Settings
from ingest.redact import redact_url
from workers.index.connect import elastic_client, is_security_refusal, username_for

URL = "https://127.0.0.1:9200"


def _settings(**elasticsearch: object) -> Settings:
    return Settings(
        redis_url="redis://127.0.0.1:6379/0",
        elasticsearch_url=URL,
        elasticsearch=ElasticsearchSettings.model_validate(elasticsearch),
    )


def _authorization(settings: Settings, purpose: str = "write") -> str | None:
    client = elastic_client(settings, purpose)  # type: ignore[arg-type]
    try:
        value = client._headers.get("authorization")
        return None if value is None else str(value)
    finally:
        client.close()


def test_api_key_is_sent_as_an_apikey_header() -> None:
    assert _authorization(_settings(api_key=SecretStr("aWQ6a2V5"))) == "ApiKey aWQ6a2V5"


def test_api_key_from_a_file_drops_the_trailing_newline(tmp_path: Path) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text("aWQ6a2V5\n", encoding="utf-8")
    assert _authorization(_settings(api_key_file=key_file)) == "ApiKey aWQ6a2V5"


def test_read_commands_use_the_reader_and_write_commands_the_writer(tmp_path: Path) -> None:
    password_file = tmp_path / "reader-password"
    password_file.write_text("r-secret\n", encoding="utf-8")
    settings = _settings(
        username="newsingest-writer",
        password=SecretStr("w-secret"),
        reader=Credentials(username="newsingest-reader", password_file=password_file),
    )
    basic = "Basic " + base64.b64encode(b"newsingest-writer:w-secret").decode()
    assert _authorization(settings, "write") == basic
    assert _authorization(settings, "read") == "Basic " + base64.b64encode(b"newsingest-reader:r-secret").decode()
    assert username_for(settings, "read") == "newsingest-reader"


def test_without_a_reader_read_commands_use_the_writer() -> None:
    settings = _settings(username="newsingest-writer", password=SecretStr("w-secret"))
    assert _authorization(settings, "read") == "Basic " + base64.b64encode(b"newsingest-writer:w-secret").decode()


def test_no_credentials_send_no_header() -> None:
    assert _authorization(_settings()) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "w"}, "NEWSINGEST_ELASTICSEARCH__USERNAME=w has no NEWSINGEST_ELASTICSEARCH__PASSWORD"),
        ({"password": SecretStr("p")}, "NEWSINGEST_ELASTICSEARCH__PASSWORD is set without"),
        ({"api_key": SecretStr("k"), "username": "w", "password": SecretStr("p")}, "are both set: keep one"),
        ({"ca_certs": Path("/nonexistent/ca.crt")}, "NEWSINGEST_ELASTICSEARCH__CA_CERTS=/nonexistent/ca.crt: no such file"),
    ],
)
def test_unusable_settings_are_refused_naming_the_setting(fields: dict[str, object], message: str) -> None:
    with pytest.raises(SecretError, match=message.replace(".", r"\.")):
        elastic_client(_settings(**fields))


def test_reader_password_file_that_cannot_be_read_names_the_reader_setting(tmp_path: Path) -> None:
    settings = _settings(reader=Credentials(username="r", password_file=tmp_path / "missing"))
    with pytest.raises(SecretError, match="NEWSINGEST_ELASTICSEARCH__READER__PASSWORD_FILE="):
        elastic_client(settings, "read")


def test_urls_lose_their_password_in_messages() -> None:
    assert redact_url("https://u:secret@es.example:9200/") == "https://u:***@es.example:9200/"
    assert redact_url(URL) == URL


def _refusal(status: int, error_type: str) -> ApiError:
    meta = ApiResponseMeta(
        status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0, node=NodeConfig("https", "127.0.0.1", 9200)
    )
    error_class = {401: AuthenticationException, 403: AuthorizationException}[status]
    return error_class(message=error_type, meta=meta, body={"error": {"type": error_type, "reason": "..."}})


def test_a_refused_identity_is_a_configuration_error_but_an_index_block_is_waited_out() -> None:
    assert is_security_refusal(_refusal(401, "security_exception"))
    assert is_security_refusal(_refusal(403, "security_exception"))
    # A read-only or flood-stage block answers 403 too: the cluster's state, which heals; not our identity.
    assert not is_security_refusal(_refusal(403, "cluster_block_exception"))
