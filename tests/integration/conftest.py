"""The integration suites' fixtures live in tests/support/fixtures.py (shared with reliability)."""

from fixtures import cluster, kube, kubeconfig, operator

__all__ = ["cluster", "kube", "kubeconfig", "operator"]
