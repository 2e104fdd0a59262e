"""Encrypted payloads: every workflow input, result, memo and activity argument leaves the
process encrypted with AES-GCM, so essays never sit in plain text in a history, the Temporal UI
or the server's database.

- `aes_gcm`: the payload codec and its keys (`PAYLOAD_KEYS`)
- `server`: the codec endpoint the Temporal UI calls to show payloads to an operator
  (`python -m codec`)
"""
