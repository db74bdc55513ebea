"""Signature verification with didkit, concurrent per request, bounded in time and memoised per process (scoring
contract §5.4, production contract P2.3, P6)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

_OPTIONS = '{"proofPurpose":"assertionMethod"}'
_CACHE_SIZE = 4096
# P2.3: one request's verification costs at most about a second; what is still running then counts as invalid.
VERIFY_DEADLINE_SECONDS = 1.0


class SignatureVerifier:
    """Verifies credentials with didkit on one event loop kept for the life of the process.

    Only valid verdicts are memoised, by a digest of the JSON (bounded LRU): a valid signature stays valid, while an
    invalid verdict may depend on the clock (a proof ``created`` a few seconds in the future) or on the deadline
    (P6). A warm Lambda re-scoring the same address skips the signature work of its valid stamps.
    """

    def __init__(self, cache_size: int = _CACHE_SIZE, deadline_seconds: float = VERIFY_DEADLINE_SECONDS) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_size = cache_size
        self._deadline_seconds = deadline_seconds

    def verify_all(self, credentials: Sequence[Any]) -> list[bool]:
        """Validity of each credential (an object, or its JSON text as stored), in order; every stamp of a request
        is verified concurrently."""
        documents = [c if isinstance(c, str) else json.dumps(c, sort_keys=True) for c in credentials]
        keys = [hashlib.sha256(document.encode("utf-8")).digest() for document in documents]
        known = {key: self._recall(key) for key in keys if key in self._cache}
        pending = [i for i, key in enumerate(keys) if key not in known]
        if pending:
            results = self._event_loop().run_until_complete(
                _verify_many([documents[i] for i in pending], self._deadline_seconds))
            for i, valid in zip(pending, results, strict=True):
                known[keys[i]] = valid
                if valid:
                    self._remember(keys[i], valid)
        return [known[key] for key in keys]

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop

    def _remember(self, key: bytes, valid: bool) -> None:
        if self._cache_size <= 0:
            return
        self._cache[key] = valid
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _recall(self, key: bytes) -> bool:
        self._cache.move_to_end(key)
        return self._cache[key]


async def _verify_many(documents: list[str], deadline_seconds: float) -> list[bool]:
    # tasks of the running loop, so every future belongs to this verifier's loop
    tasks = [asyncio.ensure_future(_verify_one(document)) for document in documents]
    _, late = await asyncio.wait(tasks, timeout=deadline_seconds)
    for task in late:
        task.cancel()  # the native verification may still finish in its own thread; its verdict is ignored
    return [task.result() if task not in late else False for task in tasks]


async def _verify_one(document: str) -> bool:
    import didkit  # a native library: loaded on the first verification, not at import

    try:
        result = json.loads(await didkit.verify_credential(document, _OPTIONS))
    except Exception:  # the verifier raises on some malformed inputs: that stamp is simply invalid
        return False
    return isinstance(result, dict) and not result.get("errors")
