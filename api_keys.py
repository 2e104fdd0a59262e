"""API keys: parsing the `API_KEYS` setting and telling which client a presented key belongs to.

`API_KEYS` is a comma-separated list. An entry `name:key` gives the key to the client `name`
(the identity that owns its batches and essays), so a client rotates its key by listing
`name:old,name:new` until it has switched, then dropping `name:old`. A bare `key` is its own
client, named by a fingerprint of the key (`key:<12 hex>`): simple, but rotating it changes the
identity, so what it created stays with the old key.

Only SHA-256 digests of the keys are kept, and a presented key is compared with every one of
them in constant time: neither the answer nor its timing says which key, or how much of one,
matched. Nothing here ever puts a key into a message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

CLIENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Long enough to resist guessing; the characters of base64, base64url and hex, and none that
# would be ambiguous in the list (`,` `:`) or in a header (white space).
KEY = re.compile(r"^[A-Za-z0-9._~+/=-]{16,512}$")
KEY_RULE = "16 to 512 characters from A-Z, a-z, 0-9 and . _ ~ + / = -"
FINGERPRINT_PREFIX = "key:"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def fingerprint(key: str) -> str:
    """The identity of a bare key: safe to log and to store, useless for guessing the key."""
    return FINGERPRINT_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ApiKey:
    client: str
    digest: bytes


@dataclass(frozen=True)
class KeyRing:
    """The configured keys; `identify` answers which client a presented key belongs to."""

    keys: tuple[ApiKey, ...]

    @property
    def clients(self) -> list[str]:
        return sorted({k.client for k in self.keys})

    def identify(self, presented: str) -> str | None:
        digest = _digest(presented)
        owner = None
        # Every key is compared, whatever matched first, so the time taken says nothing.
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest):
                owner = key.client
        return owner


def parse_api_keys(raw: str) -> KeyRing:
    """Parse `API_KEYS`; a ValueError says which entry is wrong, never what it holds."""
    keys: list[ApiKey] = []
    seen: dict[bytes, int] = {}
    entries = [e.strip() for e in raw.split(",")]
    for number, entry in enumerate(entries, start=1):
        if not entry:
            continue  # a trailing or doubled comma
        name, colon, key = entry.rpartition(":")
        if colon and not CLIENT_NAME.match(name):
            raise ValueError(
                f"entry {number}: the client name before ':' must be 1 to 64 characters "
                "from A-Z, a-z, 0-9, '.', '_' and '-'"
            )
        if not KEY.match(key):
            raise ValueError(f"entry {number}: a key must be {KEY_RULE}")
        digest = _digest(key)
        if digest in seen:
            raise ValueError(f"entry {number} repeats the key of entry {seen[digest]}")
        seen[digest] = number
        keys.append(ApiKey(client=name if colon else fingerprint(key), digest=digest))
    if not keys:
        raise ValueError("no key given; leave API_KEYS unset to run without keys")
    return KeyRing(tuple(keys))
