"""The one place an Elasticsearch client is built from Settings: whose credentials, which CA, verify or not.

Also says who the cluster takes us for (`who_am_i`) and turns its refusals at start-up (a rejected
password, an untrusted certificate) into one line naming the URL, the user and the setting to fix.
Never retries: a refusal is a configuration problem, and waiting will not fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from elastic_transport import TlsError
from elasticsearch import ApiError, AuthenticationException, AuthorizationException, Elasticsearch, TransportError

from ingest.logs import get_logger
from ingest.redact import redact_url
from ingest.secrets import SecretError, read_secret
from ingest.settings import Credentials, Settings
from workers.errors import IndexAccessDenied

if TYPE_CHECKING:
    from workers.index.elastic import ElasticIndex

log = get_logger(__name__)

Purpose = Literal["write", "read"]

_PREFIX = "NEWSINGEST_ELASTICSEARCH__"
CA_SETTING = f"{_PREFIX}CA_CERTS"
_warned_unverified: set[str] = set()  # one warning per URL and process: every start, not every client


@dataclass(frozen=True)
class Identity:
    """Who the cluster says we are; `security` False when the cluster has security off (anyone may do anything)."""

    security: bool
    username: str | None = None
    roles: tuple[str, ...] = ()
    excess: tuple[str, ...] = field(default=())  # rights beyond what the purpose needs, e.g. "cluster all"

    def describe(self) -> str:
        if not self.security:
            return "security is off on this cluster: no identity, every request allowed"
        roles = ", ".join(self.roles) or "no roles"
        return f"user {self.username} (roles: {roles})"


def credentials_for(settings: Settings, purpose: Purpose) -> tuple[Credentials, str]:
    """The identity a purpose uses and the prefix of its settings: read commands use `reader` when it is set."""
    es = settings.elasticsearch
    if purpose == "read" and es.reader is not None:
        return es.reader, f"{_PREFIX}READER__"
    return es, _PREFIX


def username_for(settings: Settings, purpose: Purpose) -> str:
    """The configured user of a purpose, for messages ("(api key)" or "(anonymous)" without one)."""
    creds, _ = credentials_for(settings, purpose)
    if creds.username:
        return creds.username
    return "(api key)" if creds.api_key or creds.api_key_file else "(anonymous)"


def _auth_options(creds: Credentials, prefix: str) -> dict[str, Any]:
    api_key = read_secret(creds.api_key, creds.api_key_file, f"{prefix}API_KEY")
    password = read_secret(creds.password, creds.password_file, f"{prefix}PASSWORD")
    if api_key is not None:
        if creds.username or password is not None:
            raise SecretError(f"{prefix}API_KEY and {prefix}USERNAME/PASSWORD are both set: keep one")
        # The client sends "Authorization: ApiKey <encoded>" for a string (the encoded id:key).
        return {"api_key": api_key}
    if creds.username:
        if password is None:
            raise SecretError(f"{prefix}USERNAME={creds.username} has no {prefix}PASSWORD or {prefix}PASSWORD_FILE")
        return {"basic_auth": (creds.username, password)}
    if password is not None:
        raise SecretError(f"{prefix}PASSWORD is set without {prefix}USERNAME")
    return {}


def _tls_options(settings: Settings, url: str) -> dict[str, Any]:
    es = settings.elasticsearch
    options: dict[str, Any] = {}
    if es.ca_certs is not None:
        if not Path(es.ca_certs).is_file():
            raise SecretError(f"{CA_SETTING}={es.ca_certs}: no such file")
        options["ca_certs"] = str(es.ca_certs)
    if not es.verify_certs:
        options["verify_certs"] = False
        options["ssl_show_warn"] = False  # our own warning below says it once, with the URL
        if url.startswith("https:") and url not in _warned_unverified:
            _warned_unverified.add(url)
            log.warning(
                "elasticsearch_tls_unverified",
                url=redact_url(url),
                detail=f"{_PREFIX}VERIFY_CERTS=false: the server's certificate is not checked; anyone between "
                "here and the server can read and change the traffic",
            )
    return options


def elastic_client(
    settings: Settings, purpose: Purpose = "write", *, request_timeout_s: float = 30.0, **options: Any
) -> Elasticsearch:
    """A client for the configured cluster, with the credentials of `purpose` ("write": daemon, workers,
    index commands; "read": search, stats, export, serve, status). `options` go to Elasticsearch()."""
    url = settings.elasticsearch_url
    if not url:
        raise ValueError("NEWSINGEST_ELASTICSEARCH_URL is not set")
    url = str(url)
    creds, prefix = credentials_for(settings, purpose)
    return Elasticsearch(
        url,
        request_timeout=request_timeout_s,
        **_auth_options(creds, prefix),
        **_tls_options(settings, url),
        **options,
    )


def elastic_index(settings: Settings, purpose: Purpose = "write", *, request_timeout_s: float = 30.0) -> ElasticIndex:
    """ElasticIndex over the alias of `settings`, with its own client (closed by its close())."""
    from workers.index.elastic import ElasticIndex  # elastic.py imports this module

    # max_retries=1, retry_on_status=(): 429/5xx are retried by bulk_index with backoff, not by the transport.
    client = elastic_client(settings, purpose, request_timeout_s=request_timeout_s, max_retries=1, retry_on_status=())
    return ElasticIndex(client, settings.index_alias, request_timeout_s=request_timeout_s, owns_client=True)


def is_security_refusal(exc: ApiError) -> bool:
    """401, or a 403 from security; not a 403 from an index block (read-only, flood stage), which heals."""
    return exc.meta.status == 401 or (exc.meta.status == 403 and exc.message == "security_exception")


def is_certificate_error(exc: BaseException) -> bool:
    if isinstance(exc, TlsError):  # the handshake failed: an untrusted or mismatched certificate
        return True
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower()


def refusal(settings: Settings, purpose: Purpose, exc: BaseException) -> IndexAccessDenied | None:
    """The one-line error for a refusal that is the configuration's fault, or None for anything else."""
    url = redact_url(str(settings.elasticsearch_url))
    user = username_for(settings, purpose)
    _, prefix = credentials_for(settings, purpose)
    if isinstance(exc, AuthenticationException):
        return IndexAccessDenied(
            f"Elasticsearch at {url} rejected the credentials of {user} (HTTP 401); "
            f"check {prefix}USERNAME and {prefix}PASSWORD (or {prefix}API_KEY)"
        )
    if isinstance(exc, AuthorizationException) and is_security_refusal(exc):
        return IndexAccessDenied(f"Elasticsearch at {url} refused {user} (HTTP 403): {_reason(exc)}")
    if isinstance(exc, TransportError) and is_certificate_error(exc):
        return IndexAccessDenied(
            f"Elasticsearch at {url}: its TLS certificate is not trusted; set {CA_SETTING} "
            f"to the PEM file of the CA that signed it"
        )
    return None


def _reason(exc: ApiError) -> str:
    body = exc.body.get("error") if isinstance(exc.body, dict) else exc.body
    if isinstance(body, dict):
        return str(body.get("reason") or body.get("type") or body)
    return str(body or exc.message)


def who_am_i(client: Elasticsearch, purpose: Purpose, alias: str = "news") -> Identity:
    """Ask the cluster who we are, and whether we hold more than `purpose` needs on the indices of `alias`.

    Raises the client's own errors (401, TLS, unreachable): callers turn them into messages with refusal().
    """
    try:
        me = client.security.authenticate()
    except (AuthenticationException, AuthorizationException):
        raise
    except ApiError as exc:
        if exc.meta.status in (400, 404, 405):  # "no handler found": security is off
            return Identity(security=False)
        raise
    username = str(me.get("username"))
    roles = tuple(str(role) for role in me.get("roles", []))
    return Identity(True, username, roles, _excess(client, purpose, alias))


# Rights no newsingest command needs; holding one means a leaked password costs more than it should.
_TOO_MUCH_CLUSTER = ("all", "manage", "manage_security")
_TOO_MUCH_READ = ("write", "delete", "manage", "create_index")


def _excess(client: Elasticsearch, purpose: Purpose, alias: str) -> tuple[str, ...]:
    # A name outside `{alias}` and `{alias}-*`: a least-privileged identity has no rights on it.
    indices = [{"names": [f"outside-{alias}-probe"], "privileges": ["read", "write"]}]
    if purpose == "read":  # an index the alias's pattern covers, which the reader must not change
        indices.append({"names": [f"{alias}-probe"], "privileges": list(_TOO_MUCH_READ)})
    try:
        answer = client.security.has_privileges(cluster=list(_TOO_MUCH_CLUSTER), index=indices)
    except ApiError:
        return ()  # cannot tell; not worth failing a status over
    found: list[str] = []
    found += [f"cluster {name}" for name, held in answer.get("cluster", {}).items() if held]
    for index, privileges in answer.get("index", {}).items():
        found += [f"{name} on {index}" for name, held in privileges.items() if held]
    return tuple(found)


def check_access(settings: Settings, purpose: Purpose) -> Identity | None:
    """One request at start-up: a rejected password or an untrusted certificate raises IndexAccessDenied
    now, instead of a wait that never ends. None when the cluster cannot be reached: callers wait that out."""
    client = elastic_client(settings, purpose, request_timeout_s=10.0, max_retries=0)
    try:
        return who_am_i(client, purpose, settings.index_alias)
    except (ApiError, TransportError) as exc:
        denied = refusal(settings, purpose, exc)
        if denied is not None:
            raise denied from None
        return None
    finally:
        client.close()
