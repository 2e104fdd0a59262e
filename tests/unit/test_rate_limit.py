"""The token bucket's arithmetic, on a clock the test moves by hand."""

from api.access.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_steady_rate_per_client() -> None:
    clock = Clock()
    limiter = RateLimiter(per_s=2, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("a")
    assert wait == 0.5  # one token comes every half second
    assert limiter.retry_after_s(wait) == 1
    assert limiter.take("b") == 0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0
    clock.now += 60  # a quiet spell refills the bucket to the burst, no further
    assert [limiter.take("a") for _ in range(4)][:3] == [0, 0, 0]
    assert limiter.take("a") > 0


def test_buckets_of_idle_clients_are_dropped_to_bound_memory() -> None:
    clock = Clock()
    limiter = RateLimiter(per_s=1, burst=2, clock=clock, max_buckets=100)
    for n in range(100):
        limiter.take(f"client-{n}")
    clock.now += 5  # all refilled: dropping them changes nothing
    limiter.take("newcomer")
    assert len(limiter) == 1


def test_many_busy_clients_cannot_grow_the_table_without_bound() -> None:
    clock = Clock()
    limiter = RateLimiter(per_s=1, burst=2, clock=clock, max_buckets=100)
    for n in range(1000):
        clock.now += 0.001
        limiter.take(f"client-{n}")
        assert len(limiter) <= 100
