"""The Kubernetes runtime: the API client, caches, the work queue, kopf wiring, metrics.

- `kube`: the only module that talks to the API server
- `informer`: caches primed by one LIST per kind and kept current by watch events
- `workqueue`: client-go's work queue semantics (dedup, back-off, delayed adds)
- `controller`: I/O and scheduling around the pure report step of `tend.logic`
- `handlers`: kopf wiring, one line per watched kind; `run` starts one operator
- `metrics`: the Prometheus metrics
- `heap`: short garbage-collection pauses for processes that hold a cluster in memory
"""
