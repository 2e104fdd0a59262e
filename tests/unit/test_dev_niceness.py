"""How `make dev` and the bench rank their pieces: what does a batch's work below the API."""

from __future__ import annotations

import pytest

from devstack.pieces import ConfigError, nicenesses


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (10, 10)),
        ({"BACKGROUND_NICE": "3"}, (3, 3)),
        ({"WORKER_NICE": "0"}, (10, 0)),
        ({"BACKGROUND_NICE": "0", "WORKER_NICE": "19"}, (0, 19)),
    ],
)
def test_the_worker_follows_the_background_unless_told(
    env: dict[str, str], expected: tuple[int, int]
) -> None:
    assert nicenesses(env) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BACKGROUND_NICE": "low"}, "BACKGROUND_NICE must be a whole number, got 'low'"),
        ({"WORKER_NICE": "20"}, "WORKER_NICE must be between 0 and 19, got 20"),
        ({"BACKGROUND_NICE": "-5"}, "BACKGROUND_NICE must be between 0 and 19, got -5"),
    ],
)
def test_a_bad_niceness_is_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        nicenesses(env)
