"""Bearer tokens: who is calling.

Tokens are given as ``name:token`` lines, in a file (one per line, ``#``
comments and blank lines ignored) or in the environment variable
``AUTONOMIC_API_TOKENS`` (entries separated by commas or newlines). The name
is the *subject* the authorization policy sees and the journal records as the
actor of an operator's action. Only SHA-256 digests of the tokens are kept,
and a presented token is compared with every one in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
import structlog

from autonomic.api.errors import ApiConfigError

__all__ = ["ENV_TOKENS", "MIN_TOKEN_LENGTH", "TokenSet", "bearer_token", "load_tokens"]

#: the environment variable holding ``name:token`` entries
ENV_TOKENS = "AUTONOMIC_API_TOKENS"
#: shorter tokens are refused: they can be guessed
MIN_TOKEN_LENGTH = 16

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII: what fits in an Authorization header


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@attrs.frozen
class TokenSet:
    """The accepted tokens, by digest, and their names."""

    _by_digest: dict[bytes, str] = attrs.field(factory=dict, alias="by_digest")

    @classmethod
    def parse(cls, entries: Iterable[tuple[str, str]]) -> TokenSet:
        """Build from ``(where, "name:token")`` entries; every problem is reported with its place."""
        problems: list[str] = []
        by_digest: dict[bytes, str] = {}
        names: set[str] = set()
        for where, entry in entries:
            name, sep, token = entry.partition(":")
            name, token = name.strip(), token.strip()
            if not sep:
                problems.append(f"{where}: expected name:token")
                continue
            if not _NAME.match(name):
                problems.append(f"{where}: token name {name[:40]!r} must match {_NAME.pattern}")
                continue
            if len(token) < MIN_TOKEN_LENGTH or not _TOKEN.match(token):
                problems.append(
                    f"{where}: the token of {name!r} must be at least {MIN_TOKEN_LENGTH} visible ASCII characters"
                )
                continue
            if name in names:
                problems.append(f"{where}: token name {name!r} is given twice")
                continue
            d = _digest(token)
            if d in by_digest:
                problems.append(f"{where}: the token of {name!r} is also the token of {by_digest[d]!r}")
                continue
            names.add(name)
            by_digest[d] = name
        if problems:
            raise ApiConfigError("bad API tokens: " + "; ".join(problems))
        return cls(by_digest=by_digest)

    @property
    def names(self) -> list[str]:
        """The subjects, sorted."""
        return sorted(self._by_digest.values())

    def __len__(self) -> int:
        return len(self._by_digest)

    def subject(self, token: str) -> str | None:
        """The name of ``token``, or None; compares with every known token in constant time."""
        presented = _digest(token)
        found: str | None = None
        for d, name in self._by_digest.items():
            if hmac.compare_digest(presented, d):
                found = name
        return found


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _file_entries(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise ApiConfigError(f"cannot read the API tokens file {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        structlog.get_logger("autonomic.api").warning(
            "api_tokens_file_readable_by_others", path=str(path), hint=f"chmod 600 {path}"
        )
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append((f"{path}:{n}", line))
    return out


def load_tokens(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> TokenSet:
    """Tokens from the file at ``path`` and from ``AUTONOMIC_API_TOKENS``; at least one is needed."""
    env = os.environ if environ is None else environ
    entries: list[tuple[str, str]] = []
    if path is not None:
        entries += _file_entries(Path(path))
    raw = env.get(ENV_TOKENS, "")
    for i, item in enumerate(re.split(r"[,\n]", raw), start=1):
        if item.strip():
            entries.append((f"{ENV_TOKENS}[{i}]", item.strip()))
    tokens = TokenSet.parse(entries)
    if not len(tokens):
        where = f"{path} or {ENV_TOKENS}" if path is not None else f"{ENV_TOKENS} (or api.tokens_file)"
        raise ApiConfigError(f"the API needs at least one token: none found in {where}")
    return tokens
