"""tend_sim: a strict in-process Kubernetes API server, controllers and kubelet for tests.

`SimCluster` bundles the store, the HTTP API server and the controllers; see cluster.py.

    cluster      SimCluster: store + server + controllers + kubelet, speed, kubeconfig
    server       the HTTP API (routing, CRUD, watch, Tables); openapi, protobuf beside it
    store        objects, resourceVersions, deletion; watch, selectors, admission and
                 garbage_collector are its parts; objects holds the shared helpers
    resources    the registry of kinds (built-in and CRD-served), Tables
    validation   built-in kinds' field validation; schema and cel: CRD schemas and rules
    patch        merge, strategic-merge and JSON patches
    managed_fields  managedFields on every write and server-side apply; typed (merge,
                 compare, field sets), fieldsets (FieldsV1 algebra), field_types (merge schema),
                 field_managers (names, conflicts), last_applied (kubectl's annotation)
    controllers  scheduler, Deployment, ReplicaSet, Job, EndpointSlice controllers
    kubelet      pods' containers, probes, restarts and back-off; images: what an image does;
                 environment: env/envFrom resolution; events: client-go's Event recorder
    clock        simulated time (speed); faults: injected API errors and latency
    authn, authz bearer tokens, impersonation, the access log; RBAC over the stored roles;
                 reviews: access/self/token reviews and TokenRequest
    bootstrap    what a new cluster holds (RBAC defaults, kubernetes Service, PriorityClasses);
                 podadmission: ServiceAccount and Priority admission; autoscaling: HPA v1<->v2
    errors       Kubernetes Status errors; cli: `tend sim serve`
    structural   CRD structural-schema checks; embedded, demo: the operator on a thread, `tend demo`
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tend_sim.cluster import SimCluster

__all__ = ["SimCluster"]


def __getattr__(name: str) -> Any:
    if name == "SimCluster":
        from tend_sim.cluster import SimCluster

        return SimCluster
    raise AttributeError(name)
