"""The shared token and the TLS files, as the server and every client read them.

A token is never taken from a command-line flag (other users can read process
arguments): it comes from a file (`--token-file`) or the `RUNG_TOKEN`
environment variable. Clients find the CA certificate that signed the
server's certificate in `--ca-file` or `RUNG_CA_FILE`.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("rung.credentials")

TOKEN_ENV = "RUNG_TOKEN"
CA_FILE_ENV = "RUNG_CA_FILE"
MAX_TOKEN_LENGTH = 1024
# Visible ASCII without spaces: a gRPC metadata value that survives any proxy.
TOKEN_PATTERN = re.compile(r"^[\x21-\x7e]+$")


class CredentialsError(ValueError):
    """A token or certificate file is missing, unreadable or malformed."""


def check_token(token: str, source: str) -> str:
    if not token:
        raise CredentialsError(f"the token from {source} is empty")
    if len(token) > MAX_TOKEN_LENGTH or not TOKEN_PATTERN.match(token):
        raise CredentialsError(
            f"the token from {source} must be 1-{MAX_TOKEN_LENGTH} visible ASCII characters "
            "without spaces (for example `openssl rand -hex 32`)"
        )
    return token


def read_token_file(path: str | Path) -> str:
    """The token in `path`, without surrounding whitespace."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"cannot read token file {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Not refused (containers often mount secrets 0644), but worth saying.
        log.warning("token file %s is readable by other users; consider chmod 600", path)
    return check_token(text.strip(), str(path))


def resolve_token(token_file: str | Path | None, env: Mapping[str, str] = os.environ) -> str | None:
    """The token from `token_file` if given, else from $RUNG_TOKEN, else None (no auth)."""
    if token_file:
        return read_token_file(token_file)
    if TOKEN_ENV in env:
        return check_token(env[TOKEN_ENV].strip(), f"${TOKEN_ENV}")
    return None


def resolve_ca_file(ca_file: str | Path | None, env: Mapping[str, str] = os.environ) -> str | None:
    """`ca_file` if given, else $RUNG_CA_FILE, else None (plaintext)."""
    return str(ca_file) if ca_file else env.get(CA_FILE_ENV) or None


def read_pem(path: str | Path, what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CredentialsError(f"cannot read {what} {path}: {exc}") from None
    if b"-----BEGIN " not in data:
        raise CredentialsError(f"{what} {path} is not a PEM file")
    return data
