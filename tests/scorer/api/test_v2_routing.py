"""Unknown routes and the V2 response headers (scoring contract §2.1, §2.3, §12 #16)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import insert_cache_row, insert_community, insert_scorer
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.response import RESPONSE_HEADERS

from ..harness import Scorer
from .v2_support import address, e1_path, issue, key_headers

A = "0x" + "a" * 40

UNKNOWN_PUBLIC = [
    ("POST", e1_path(3, A)),
    ("DELETE", e1_path(3, A)),
    ("GET", e1_path(3, A) + "/"),
    ("GET", f"/v2/stamps/3/score/{A}/extra"),
    ("GET", "/v2/stamps/3/score/"),
    ("GET", "/v2/stamps/3"),
    ("GET", "/"),
    ("GET", "/ceramic-cache/weights/"),
    ("PUT", "/ceramic-cache/stamps/bulk"),
    ("GET", "/V2/stamps/3/score/" + A),
]
UNKNOWN_INTERNAL = [
    ("GET", "/internal/"),
    ("GET", "/internal/embed/score/3"),
    ("POST", "/internal/embed/validate-api-key"),
    ("GET", "/internal/embed/stamps/" + A),
    ("GET", f"/internal/embed/score/3/{A}//"),
]


@pytest.fixture(scope="module")
def offline() -> Scorer:
    """The application with a database URL it never needs: unmatched routes answer without a connection."""
    return Scorer("postgresql://nobody@127.0.0.1:1/none", {})


@pytest.mark.parametrize(("method", "path"), UNKNOWN_PUBLIC)
def test_unknown_public_route_returns_404_error_body(offline: Scorer, method: str, path: str) -> None:
    reply = offline.call(method, path)
    assert (reply.status, reply.body) == (404, {"error": "Not Found"}), f"{method} {path}"
    assert reply.headers == RESPONSE_HEADERS, f"{method} {path}: headers"
    assert reply.raw["statusDescription"].startswith("404"), f"{method} {path}"


@pytest.mark.parametrize(("method", "path"), UNKNOWN_INTERNAL)
def test_unknown_internal_route_returns_404_detail_body(offline: Scorer, method: str, path: str) -> None:
    reply = offline.call(method, path)
    assert (reply.status, reply.body) == (404, {"detail": "Not Found"}), f"{method} {path}"
    assert reply.headers == RESPONSE_HEADERS, f"{method} {path}: error responses carry RESPONSE_HEADERS"


def test_e1_head_method_returns_404(offline: Scorer) -> None:
    reply = offline.call("HEAD", e1_path(3, A))
    assert (reply.status, reply.body) == (404, {"error": "Not Found"}), f"HEAD {e1_path(3, A)}"


def test_e1_every_response_carries_exactly_the_response_headers(e1: Scorer, w_pinned: DemoSeed,
                                                                db: psycopg.Connection[Any],
                                                                signer: StampSigner) -> None:
    insert_scorer(db, scorer_id=8, weights={}, threshold="1", type="OTHER")
    insert_community(db, community_id=4, account_id=w_pinned.account_id, scorer_id=8)
    broken = address(0xBAD)
    stamp = issue(signer, broken, "Google")
    stamp["expirationDate"] = "not-a-date"
    insert_cache_row(db, address=broken, provider="Google", stamp=stamp)
    key = key_headers(w_pinned)
    cases = [
        ("200 success", 200, e1_path(3, A), key, None),
        ("200 scoring error", 200, e1_path(3, broken), key, None),
        ("400 invalid address", 400, e1_path(3, "0x12"), key, None),
        ("401 no key", 401, e1_path(3, A), {}, None),
        ("404 no scorer", 404, e1_path(99, A), key, None),
        ("500 misconfigured scorer", 500, e1_path(4, A), key, None),
        ("500 invalid body", 500, e1_path(3, A), key, "{"),
    ]
    for case, status, path, headers, body in cases:
        reply = e1.call("GET", path, headers=headers, body=body)
        assert reply.status == status, f"E1 {path}: {case}"
        assert reply.headers == RESPONSE_HEADERS, f"E1 {path}: {case} headers"
        assert "X-RateLimit-Limit" not in reply.raw["headers"], f"E1 {path}: no rate-limit headers"
