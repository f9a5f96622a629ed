"""tend: a Kubernetes operator that runs services declared as ManagedService resources.

One direction of dependency, enforced by import-linter (pyproject.toml):

    tend.cli  ->  tend.runtime  ->  tend.logic  ->  tend.api

- `tend.api`: the ManagedService API (spec, status, reasons), the operator's configuration
  and the one validation module; pydantic models, no I/O
- `tend.logic`: pure decisions (builders, graph, dependencies, plan, report)
- `tend.runtime`: the Kubernetes runtime (client, caches, work queue, kopf handlers, metrics)
- `tend.cli`: the command line

The simulated cluster used by the tests and the demo is the separate package `tend_sim`;
nothing in `tend` imports it.
"""
