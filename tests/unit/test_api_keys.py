"""Parsing API_KEYS and identifying a presented key (pure functions, no servers needed)."""

import pytest

from api_keys import fingerprint, parse_api_keys

OLD = "portal-old-0123456789abcdef"
NEW = "portal-new-fedcba9876543210"
BARE = "bare-key-AbCdEfGhIjKlMnOp"


def test_named_keys_rotate_under_one_client_and_bare_keys_get_a_fingerprint() -> None:
    ring = parse_api_keys(f" portal:{OLD}, portal:{NEW} ,{BARE},")
    assert ring.identify(OLD) == ring.identify(NEW) == "portal"
    assert ring.identify(BARE) == fingerprint(BARE)
    assert fingerprint(BARE).startswith("key:") and BARE not in fingerprint(BARE)
    assert ring.clients == sorted(["portal", fingerprint(BARE)])


@pytest.mark.parametrize("presented", ["", "portal", OLD[:-1], OLD + "x", OLD.upper(), "x" * 600])
def test_anything_but_a_configured_key_is_refused(presented: str) -> None:
    assert parse_api_keys(f"portal:{OLD}").identify(presented) is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("portal:short", "entry 1: a key must be 16 to 512"),
        (f"bad name!:{OLD}", "entry 1: the client name"),
        (f"a:{OLD},b:{NEW},c:{OLD}", "entry 3 repeats the key of entry 1"),
        (f"portal:{OLD} extra", "entry 1: a key must be"),
        (" , ,", "no key given"),
    ],
)
def test_a_bad_list_names_the_entry_but_never_a_key(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        parse_api_keys(raw)
    assert OLD not in str(caught.value) and NEW not in str(caught.value)
