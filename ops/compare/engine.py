"""Run the comparison: every request to both sides, a bounded number at a time, and compare the replies.

Requests for the same address never run at the same time and keep their file order (the legacy side can race on one
address, scoring contract §12 #7), and within a request the legacy side goes first: it is the side production runs
today. A `FatalTransportError` stops the run; any other failure is that request's outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from ops.compare.diff import Difference, compare_replies
from ops.compare.request_file import CompareRequest
from ops.compare.transport import Outcome, Transport

Verdict = Literal["identical", "different", "error"]
MAX_CONCURRENCY = 32


@dataclass(frozen=True)
class RequestResult:
    request: CompareRequest
    legacy: Outcome
    scorer: Outcome
    differences: tuple[Difference, ...] = ()

    @property
    def verdict(self) -> Verdict:
        if self.legacy.error is not None or self.scorer.error is not None:
            return "error"
        return "different" if self.differences else "identical"


def compare_one(request: CompareRequest, transport: Transport) -> RequestResult:
    """One request to both sides, legacy first, and the differences of the replies."""
    legacy = transport.send(request, "legacy")
    scorer = transport.send(request, "scorer")
    differences: tuple[Difference, ...] = ()
    if legacy.reply is not None and scorer.reply is not None:
        differences = tuple(compare_replies(request.route.key, legacy.reply, scorer.reply))
    return RequestResult(request, legacy, scorer, differences)


def run_comparison(requests: Sequence[CompareRequest], transport: Transport, *, concurrency: int = 4,
                   on_result: Callable[[RequestResult], None] = lambda result: None) -> list[RequestResult]:
    """Compare every request; results in request order. `on_result` is called as each one finishes.

    Requests for one address form a chain run in file order by one worker (so an E1 listed before an E6 of the same
    address scores it first on both sides); chains run `concurrency` at a time.
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}, got {concurrency}")
    chains: dict[str, list[CompareRequest]] = {}
    for request in requests:
        chains.setdefault(request.address or f"#{request.index}", []).append(request)
    stop = threading.Event()

    def run_chain(chain: list[CompareRequest]) -> list[RequestResult]:
        results = []
        for request in chain:
            if stop.is_set():
                break
            try:
                result = compare_one(request, transport)
            except BaseException:
                stop.set()
                raise
            on_result(result)
            results.append(result)
        return results

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="compare") as pool:
        futures = [pool.submit(run_chain, chain) for chain in chains.values()]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and not f.cancelled() and f.exception() is not None), None)
        if failed is not None:
            stop.set()
            for future in futures:
                future.cancel()
            raise failed.exception()  # type: ignore[misc]  # leaving the block waits for the running chains
    return sorted((result for future in futures for result in future.result()), key=lambda r: r.request.index)
