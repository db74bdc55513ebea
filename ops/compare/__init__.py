"""`python -m ops compare`: the same requests to the legacy and the scorer function, compared after the scoring
contract's normalisation (production contract P11.2).

Pure parts, each tested on its own: `routes` (what may be compared), `request_file` (the input file), `events`
(ALB events and request headers), `normalise` and `diff` (the comparison), `summary` (per-route counts and latency),
`report` (JSON report and readable differences). `engine` runs requests with bounded concurrency over a thin
`transport` (Lambda Invoke or HTTP through the load balancer with the override header); `command` wires it to the CLI.
"""
