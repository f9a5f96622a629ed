"""Pure decisions: what to build, in which order, what to write, and what to report.

No I/O, no kopf, no Kubernetes client: every function here takes plain data and returns
plain data, so each is tested without a cluster.

- `builders`: the Deployment/Job, Service and PodDisruptionBudget for a spec
- `graph`: the dependency graph (waves, cycles, reverse edges for wake-ups)
- `readiness`: whether a ManagedService is Ready at its generation (the one verdict)
- `dependencies`: whether each dependency is satisfied, and the root cause of a failure
- `ownership`: whose object a live object is, and which ManagedService it belongs to
- `plan`: the writes that bring live objects to the desired ones
- `workload`: a live Deployment or Job read like `kubectl rollout status`
- `pods`, `restarts`: the pod fields tend reads; restarts counted once, classified, and
  weighed against the restart budget (and what an exhausted one holds the service in)
- `conditions`, `events`: phase, conditions and the Events their transitions deserve
- `observation`, `report`: the report step, from (previous status, what a reconcile saw and
  did) to (status patch, Events)
"""
