"""No statement text sent reaches RDS Proxy's pinning size, whatever a request carries (production contract P1).

RDS Proxy pins the session of any statement whose text is longer than 16 KB. Batches bind their values into the
text (client-side), so a round trip that carries many stamps must go out with server-side parameters instead.
Checked on the wire, by a loopback proxy that reads the client's Query and Parse messages.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from bench.roundtrip_proxy import RoundTripProxy
from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.signing import StampSigner

from ..harness import Scorer, bearer, hs256_token
from .v2_support import Clock, add_stamp, address, call_e1, issue, key_headers, stamp_providers

C = 3
RDS_PROXY_PINNING_TEXT_BYTES = 16 * 1024
PROVIDERS = [f"Provider{i:02d}" for i in range(30)]  # about 55 KB of stamps


def test_round_trips_with_many_stamps_send_no_statement_text_over_16_kb(
        w_pinned: DemoSeed, db: psycopg.Connection[Any], db_url: str, signer: StampSigner, clock: Clock) -> None:
    proxy = RoundTripProxy(parse_qs(urlsplit(db_url).query)["host"][0])
    scorer = Scorer(proxy.url(urlsplit(db_url).path.lstrip("/")),
                    {"TRUSTED_IAM_ISSUERS": json.dumps(list(w_pinned.trusted_issuers)), "FF_API_ANALYTICS": "on",
                     "CERAMIC_CACHE_SCORER_ID": str(C)}, clock=clock)
    try:
        holder, poster = address(0x51), address(0x52)
        for provider in PROVIDERS:
            add_stamp(db, signer, holder, provider)
        reply = call_e1(scorer, C, holder, headers=key_headers(w_pinned))
        assert reply.status == 200 and reply.body["error"] is None, "E1 with 30 stamps"
        assert stamp_providers(db, holder, C) == sorted(PROVIDERS), "every stamp written to registry_stamp"

        items = [{"provider": provider, "stamp": issue(signer, poster, provider)} for provider in PROVIDERS]
        reply = scorer.call("POST", "/ceramic-cache/stamps/bulk", headers=bearer(hs256_token(poster)), body=items)
        assert reply.status == 201 and len(reply.body["stamps"]) == 30, "E2 with 30 stamps"

        sizes = proxy.statement_texts
        assert max(size for _, size in sizes) <= RDS_PROXY_PINNING_TEXT_BYTES, sorted(sizes, key=lambda s: -s[1])[:3]
        assert {kind for kind, _ in sizes} == {"Q", "P"}, \
            "small round trips go out as simple queries, the ones carrying the stamps with server-side parameters"
    finally:
        scorer.close()
        proxy.close()
