"""`PAYLOAD_KEYS`: a comma-separated list of `id:key` pairs, each key 32 bytes in base64.

The first encrypts; every one listed decrypts, so a key is rotated by putting a new one first
and dropping the old one once no open workflow (and no history still wanted) carries a payload
under it. Standard library only: settings check the keys without loading the cipher.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

KEY_BYTES = 32
KEY_ID_RULE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PayloadKeyError(ValueError):
    """A key that cannot be used, or a payload under a key this process does not hold."""


def parse_payload_keys(raw: str) -> list[tuple[str, bytes]]:
    """`id:base64key,...` in order; the messages name the entry, never the key."""
    keys: list[tuple[str, bytes]] = []
    for number, entry in enumerate(raw.split(","), start=1):
        key_id, _, encoded = entry.strip().partition(":")
        if not KEY_ID_RULE.fullmatch(key_id):
            raise PayloadKeyError(f"entry {number}: the id must be 1 to 64 of A-Z a-z 0-9 . _ -")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise PayloadKeyError(f"key {key_id!r}: not base64") from None
        if len(key) != KEY_BYTES:
            raise PayloadKeyError(f"key {key_id!r}: must be {KEY_BYTES} bytes, is {len(key)}")
        if key_id in dict(keys):
            raise PayloadKeyError(f"key {key_id!r} is listed twice")
        keys.append((key_id, key))
    return keys


def new_key() -> str:
    """A fresh key, base64, for `PAYLOAD_KEYS`."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


if __name__ == "__main__":
    print(f"k1:{new_key()}")  # a PAYLOAD_KEYS entry; rename `k1` as you rotate
