"""tend.sim: a strict in-process Kubernetes API server, controllers and kubelet for tests.

`SimCluster` bundles the store, the HTTP API server and the controllers; see cluster.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tend.sim.cluster import SimCluster

__all__ = ["SimCluster"]


def __getattr__(name: str) -> Any:
    if name == "SimCluster":
        from tend.sim.cluster import SimCluster

        return SimCluster
    raise AttributeError(name)
