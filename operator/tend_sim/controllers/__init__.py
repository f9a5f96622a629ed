"""The simulated control plane: what kube-controller-manager and the scheduler do for the kinds
tend creates, plus the simulated kubelet, started together by `Controllers`.

One module per controller: scheduler, deployment (-> ReplicaSets), replicaset (-> Pods),
job (-> Pods), endpointslice (Services -> EndpointSlices and Endpoints); base holds the loop
they share. Garbage collection by ownerReference is the store's (tend_sim.garbage_collector).
Every controller is a watch-driven loop over a queue of keys; reconciles are synchronous
against the store, so they always see the latest state (no informer lag, no expectations).
"""

from __future__ import annotations

from tend_sim.clock import Clock
from tend_sim.controllers.base import Controller
from tend_sim.controllers.deployment import DeploymentController
from tend_sim.controllers.endpointslice import EndpointSliceController
from tend_sim.controllers.job import JobController
from tend_sim.controllers.replicaset import ReplicaSetController
from tend_sim.controllers.scheduler import Scheduler
from tend_sim.kubelet import NODE_NAME, Kubelet
from tend_sim.store import Store


class Controllers:
    """The controllers and the kubelet of the simulated cluster, started together."""

    def __init__(self, store: Store, clock: Clock, *, node_name: str = NODE_NAME) -> None:
        self.store = store
        self.clock = clock
        self.kubelet = Kubelet(store, clock, node_name)
        self.controllers: list[Controller] = [
            Scheduler(store, clock, node_name),
            DeploymentController(store, clock),
            ReplicaSetController(store, clock),
            JobController(store, clock),
            EndpointSliceController(store, clock),
        ]
        self.running = False

    async def start(self) -> None:
        if self.running:
            return
        await self.kubelet.start()
        for controller in self.controllers:
            controller.start()
        self.running = True

    async def stop(self) -> None:
        if not self.running:
            return
        for controller in self.controllers:
            await controller.stop()
        await self.kubelet.stop()
        self.running = False

    async def __aenter__(self) -> Controllers:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
