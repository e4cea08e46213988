"""Secrets from settings: a value given directly or a file that holds it (container secrets).

Every credential is read here, so that reading one has one error message and one rule: a file
wins over nothing, a value and a file together is a mistake, and an unreadable file names itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr


class SecretError(ValueError):
    """A secret setting that cannot be used; the message names the setting and the reason."""


def read_secret(value: SecretStr | None, file: Path | None, setting: str) -> str | None:
    """The secret of `setting` (e.g. "NEWSINGEST_ELASTICSEARCH__PASSWORD"), from its value or `<setting>_FILE`."""
    if value is not None and file is not None:
        raise SecretError(f"{setting} and {setting}_FILE are both set: keep one")
    if value is not None:
        return value.get_secret_value()
    if file is None:
        return None
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"{setting}_FILE={file}: cannot read it ({exc.strerror or exc})") from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise SecretError(f"{setting}_FILE={file}: the file is empty")
    return secret


# Group or others may read it: a secret there is shared with every account on the machine.
_SHARED_BITS = 0o077


def secret_file_warnings(settings: Any) -> list[str]:
    """One line per file holding a secret that others can read (the settings file, *_file secrets)."""
    import os

    from ingest.redact import url_password
    from ingest.settings import SETTINGS_FILE_VARIABLE

    es = settings.elasticsearch
    identities = [es, es.reader] if es.reader is not None else [es]
    files: list[tuple[Path, str]] = []
    settings_file = os.environ.get(SETTINGS_FILE_VARIABLE)
    if settings_file and _settings_file_holds_secret(Path(settings_file), url_password):
        files.append((Path(settings_file), SETTINGS_FILE_VARIABLE))
    for identity in identities:
        for path, name in ((identity.password_file, "password_file"), (identity.api_key_file, "api_key_file")):
            if path is not None:
                files.append((path, f"elasticsearch {name}"))
    if settings.redis.password_file is not None:
        files.append((settings.redis.password_file, "redis.password_file"))
    if settings.api.token_file is not None:
        files.append((settings.api.token_file, "api.token_file"))
    warnings = []
    for path, what in files:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue  # a missing file is reported by whoever reads it
        if mode & _SHARED_BITS:
            warnings.append(f"{what} {path} holds a secret and is readable by others (mode {mode & 0o777:o}): chmod 600 {path}")
    return warnings


def _settings_file_holds_secret(path: Path, url_password: Any) -> bool:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return _holds_secret(data, url_password)


def _holds_secret(data: Any, url_password: Any) -> bool:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("password", "api_key") and value:
                return True
            if key.endswith("_url") and isinstance(value, str) and url_password(value):
                return True
            if _holds_secret(value, url_password):
                return True
    return False
