"""The reliability suite drives the real operator against the simulated cluster and its faults."""

from fixtures import cluster, kube, kubeconfig, operator

__all__ = ["cluster", "kube", "kubeconfig", "operator"]
