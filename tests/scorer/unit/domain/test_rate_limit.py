"""Rate, window and counter key as django-ratelimit 4.1 derives them (production contract P9), without I/O."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from scorer_lambda.domain.rate_limit import Rate, counter_key, is_over_limit, parse_rate, window_for

# P9's golden vectors: (rate, prefix, ts, count, period, window, Redis key), computed by django-ratelimit 4.1 with the
# legacy's settings at now = ts + 0.25.
GOLDEN = [
    ("125/15m", "DEMOKEY1", 1796300000, 125, 900, 1796300166,
     ":1:rl:65e327ba3f646b3c8fb4333377a5b52507055d54b983aab057a7f1a09173dc9f"),
    ("2000/15m", "abcdEFGH", 1796300000, 2000, 900, 1796300096,
     ":1:rl:8fc97f75ba56b077c92d355317a74ee8f204ddba0a29f8005de6374acfc6cd0f"),
    ("10/s", "k1", 1796300000, 10, 1, 1796300000,
     ":1:rl:a5adeeceee58927b327b13916d792fc023cb122cfa9265ba28f2c48f01437380"),
    ("350/15m", "DEMOKEY1", 1796300899, 350, 900, 1796301066,
     ":1:rl:164db51406fc6e86ca0b797bb7bb84fd75b3bfc97de296e2e78fbb26bbeeae33"),
    ("5/2h", "Zz9", 1796300000, 5, 7200, 1796304288,
     ":1:rl:7b33288e3e6b2e28ac3127c141be9368f1135715267fb4d7392f6356c0915182"),
    ("100/d", "pfx", 1796300000, 100, 86400, 1796311405,
     ":1:rl:3874e76f809425067862fd03934a72a6ab949422b0adee5eec35fc1774724764"),
]


@pytest.mark.parametrize(("rate", "prefix", "ts", "count", "period", "window", "key"), GOLDEN,
                         ids=[f"{g[0]}-{g[1]}-{g[2]}" for g in GOLDEN])
def test_golden_vectors(rate: str, prefix: str, ts: int, count: int, period: int, window: int, key: str) -> None:
    parsed = parse_rate(rate)
    assert parsed is not None and parsed == Rate(count, period), f"{rate}: count / period"
    now = ts + 0.25
    assert window_for(prefix, period, int(now)) == window, f"{rate} {prefix} at {now}: window"
    assert counter_key(parsed, prefix, window) == key, f"{rate} {prefix}: Redis key"


@pytest.mark.parametrize(("value", "expected"), [
    ("125/15m", Rate(125, 900)), ("3/m", Rate(3, 60)), ("3/s", Rate(3, 1)), ("3/", Rate(3, 1)),
    ("7/2s", Rate(7, 2)), ("1/h", Rate(1, 3600)), ("1/3d", Rate(1, 259200)), ("0/m", Rate(0, 60)),
    ("10/15mextra", Rate(10, 900)),  # matched at the start, as re.match does: the tail is ignored
    ("10/15M", Rate(10, 15)),  # an upper-case unit is not a unit: 15 seconds, as in the library
    ("007/01m", Rate(7, 60)),
])
def test_rate_parsing_follows_split_rate(value: str, expected: Rate) -> None:
    assert parse_rate(value) == expected, value


@pytest.mark.parametrize("value", ["15m", "/m", "abc", " 125/15m", "125 /15m", "x125/15m", "5/0m", "5/0", "-1/m"])
def test_values_that_are_not_rates_are_misconfigured(value: str) -> None:
    assert parse_rate(value) is None, f"{value!r}: allowed with a warning, never a 500"


def test_counter_lifetime_is_the_period_plus_the_fudge() -> None:
    assert Rate(125, 900).ttl_seconds == 905
    assert Rate(10, 1).ttl_seconds == 6


def test_windows_are_fixed_intervals_shifted_per_prefix() -> None:
    period, prefix = 900, "DEMOKEY1"
    offset = zlib.crc32(prefix.encode()) % period
    first = window_for(prefix, period, 1796300000)
    assert first % period == offset
    # Every instant of (first - period, first] belongs to the same window; the next second starts the next one.
    for ts in (first - period + 1, first - 1, first):
        assert window_for(prefix, period, ts) == first, ts
    assert window_for(prefix, period, first + 1) == first + period
    assert window_for(prefix, period, first - period) == first - period
    assert window_for("other-prefix", period, 1796300000) != first, "offsets differ per key"


def test_one_second_windows_have_no_offset() -> None:
    assert [window_for("k1", 1, ts) for ts in (10, 11, 12)] == [10, 11, 12]


def test_key_is_the_library_hash_of_group_normalised_rate_prefix_and_window() -> None:
    digest = hashlib.sha256(b"registry125/900sDEMOKEY11796300166").hexdigest()
    assert counter_key(Rate(125, 900), "DEMOKEY1", 1796300166) == ":1:rl:" + digest
    minutes, seconds = parse_rate("125/15m"), parse_rate("125/900s")
    assert minutes is not None and seconds is not None
    assert counter_key(minutes, "P", 1) == counter_key(seconds, "P", 1), "equivalent rates share counters, as there"
    assert counter_key(Rate(125, 900), "P", 1) != counter_key(Rate(126, 900), "P", 1), "a new tier starts afresh"


def test_limit_is_exceeded_only_past_the_count() -> None:
    rate = Rate(3, 60)
    assert [is_over_limit(rate, n) for n in (1, 2, 3, 4, 5)] == [False, False, False, True, True]
    assert is_over_limit(Rate(0, 60), 1), "0/m: every request is limited"
