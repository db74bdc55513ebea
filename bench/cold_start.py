"""Run in a fresh interpreter by scorer_bench.py: import the handler, build the app, answer one request, report cost."""

from __future__ import annotations

import time

started = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

from scorer_lambda import handler as entry  # noqa: E402


def peak_rss_mb() -> float:
    """This interpreter's peak resident memory. On Linux from VmHWM: ``ru_maxrss`` survives exec, so it would also
    count the benchmark process this one was forked from."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


imported = time.perf_counter()
# What the handler's first call does before serving (the Lambda init phase ends here): logging, settings, the app
# (with rate limiting on, this is where the Redis client is imported).
entry.install_json_logging()
entry._app = entry.build_app()
initialised = time.perf_counter()
event = json.loads(sys.argv[1])
result = entry.handler(event, None)
answered = time.perf_counter()
print(json.dumps({
    "status": result["statusCode"],
    "import_ms": (imported - started) * 1000,
    "init_ms": (initialised - started) * 1000,
    "first_answer_ms": (answered - initialised) * 1000,
    "total_ms": (answered - started) * 1000,
    "peak_rss_mb": peak_rss_mb(),
    "redis_imported": "redis" in sys.modules,
}), flush=True)
os._exit(0)  # didkit's runtime thread can crash interpreter finalisation (scoring contract §11.4)
