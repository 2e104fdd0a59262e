import pytest

from tests.stack import stack  # noqa: F401  (the fixture)


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, object]:
    return {
        # Schemathesis tries the largest batch the document allows: 20 essays keep the worker's
        # load (and the generator's) small, and show the document following the settings.
        "max_batch_essays": 20,
        # The question here is what the API answers, not how fast: on two shared cores a busy
        # worker can take more than the default 5 s to take a batch update, and the API would
        # rightly answer 503 "retry".
        "temporal_rpc_timeout_s": 30,
    }
