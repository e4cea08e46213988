"""A private Redis secured as production should be: TLS only, the default user off, one ACL user
limited to the project's key prefix (the rules of ingest.redis_connect.acl_rules).

Certificates are made per server with the `openssl` command: a CA, and a server certificate for
127.0.0.1 and localhost signed by it. Clients need no certificate of their own (tls-auth-clients no):
the password and the ACL say who they are.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from ingest.redis_connect import acl_rules

USER = "newsingest"
ADMIN = "admin"  # the test's own user, to read ACL LOG (what the limited user was refused)


@dataclass
class SecuredRedis:
    """A running TLS + ACL redis-server; `url` is rediss://USER:PASS@127.0.0.1:PORT/0, `ca_file` its CA."""

    port: int
    password: str
    ca_file: Path
    folder: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    admin_password: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        return f"rediss://{USER}:{self.password}@127.0.0.1:{self.port}/0"

    def client(self, **options: object) -> redis.Redis:
        """A client as the ACL user, verifying the server against the test's CA."""
        return redis.Redis.from_url(
            self.url, ssl_cert_reqs="required", ssl_ca_certs=str(self.ca_file), socket_timeout=10, **options
        )

    def admin(self) -> redis.Redis:
        """A client with every right: for a test to look behind the limited user's back."""
        return redis.Redis(
            host="127.0.0.1", port=self.port, username=ADMIN, password=self.admin_password, ssl=True,
            ssl_cert_reqs="required", ssl_ca_certs=str(self.ca_file), socket_timeout=10, decode_responses=True,
        )

    def refusals(self) -> list[str]:
        """What the ACL refused the limited user since the last reset (ACL LOG), one line each."""
        with self.admin() as client:
            entries = client.acl_log(count=100)
        return [f"{e.get('reason')} {e.get('object')} ({e.get('context')}, user {e.get('username')})" for e in entries]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


def start_secured_redis(folder: Path, key_prefix: str) -> SecuredRedis:
    """Start redis-server on 127.0.0.1 with TLS on a free port (no plain port) and wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = _make_certificates(folder)
    password, admin_password = secrets.token_hex(16), secrets.token_hex(16)
    acl_file = folder / "users.acl"
    acl_file.write_text(
        f"user default off\nuser {USER} on >{password} {acl_rules(key_prefix)}\n"
        f"user {ADMIN} on >{admin_password} ~* &* +@all\n",
        encoding="utf-8",
    )
    acl_file.chmod(0o600)
    port = _free_port()
    with (folder / "redis.log").open("ab") as log:
        process = subprocess.Popen(
            [
                "redis-server", "--bind", "127.0.0.1", "--protected-mode", "yes", "--port", "0",
                "--tls-port", str(port), "--tls-cert-file", str(cert_file), "--tls-key-file", str(key_file),
                "--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no", "--aclfile", str(acl_file),
                "--dir", str(folder), "--save", "", "--appendonly", "no",
            ],
            stdout=log,
            stderr=log,
        )
    server = SecuredRedis(port, password, ca_file, folder, process, admin_password)
    deadline = time.monotonic() + 30
    while not _answers(server):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            log_text = (folder / "redis.log").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"secured redis on port {port} did not start:\n{log_text}")
        time.sleep(0.1)
    return server


def _answers(server: SecuredRedis) -> bool:
    try:
        with server.client() as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def _make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    ca_key, ca_file = folder / "ca.key", folder / "ca.pem"
    key_file, csr_file, cert_file = folder / "server.key", folder / "server.csr", folder / "server.pem"
    extensions = folder / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_file,
         "-days", "2", "-subj", "/CN=newsingest test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key_file, "-out", csr_file, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr_file, "-CA", ca_file, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert_file, "-days", "2", "-extfile", extensions],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True, timeout=60)
    return ca_file, cert_file, key_file


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
