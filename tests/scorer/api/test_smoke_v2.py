"""The worked example of scoring contract §7.8 through the ALB handler (AT-01, AT-02 bodies)."""

from __future__ import annotations

from scorer_lambda.local.seed import DemoSeed

from ..harness import Scorer


def test_e1_worked_example_step_1_body(scorer_w: Scorer, fixture_w: DemoSeed) -> None:
    reply = scorer_w.call("GET", f"/v2/stamps/{fixture_w.community_id}/score/{fixture_w.address_a}",
                          headers={"x-api-key": fixture_w.api_key})
    assert reply.status == 200
    body = dict(reply.body)
    assert body.pop("last_score_timestamp").endswith("+00:00")
    assert body == {
        "address": fixture_w.address_a, "score": "1.24900", "passing_score": True,
        "expiration_timestamp": "2027-01-15T10:20:30.456000+00:00", "threshold": "1.24900", "error": None,
        "stamps": {"Discord": {"score": "0.51600", "dedup": False, "expiration_date": "2027-03-01T00:00:00+00:00"},
                   "Ens": {"score": "0.20800", "dedup": False, "expiration_date": "2027-03-01T00:00:00+00:00"},
                   "Google": {"score": "0.52500", "dedup": False,
                              "expiration_date": "2027-01-15T10:20:30.456000+00:00"}},
        "points_data": None, "possible_points_data": None, "linked_score": None,
    }
    assert list(reply.body) == ["address", "score", "passing_score", "last_score_timestamp", "expiration_timestamp",
                                "threshold", "error", "stamps", "points_data", "possible_points_data",
                                "linked_score"]
