"""HorizontalPodAutoscaler conversion: autoscaling/v1 <-> autoscaling/v2 (the storage version).

As pkg/apis/autoscaling/v1/conversion.go does for the CPU target: v1's
`targetCPUUtilizationPercentage` is v2's Resource metric `cpu` with an Utilization target,
and `status.currentCPUUtilizationPercentage` its current average utilization. Not converted:
v2 metrics other than CPU utilization, which v1 carries in the
`autoscaling.alpha.kubernetes.io/metrics` annotations (a v1 read drops them).
"""

from __future__ import annotations

from typing import Any

from tend_sim.objects import Obj, deep_copy


def _cpu_metric(metrics: Any) -> dict[str, Any] | None:
    for m in metrics or []:
        res = m.get("resource") if isinstance(m, dict) and m.get("type") == "Resource" else None
        if isinstance(res, dict) and res.get("name") == "cpu":
            return res
    return None


def to_v2(obj: Obj) -> Obj:
    out: Obj = deep_copy(obj)
    out["apiVersion"] = "autoscaling/v2"
    spec = out.get("spec")
    if isinstance(spec, dict) and "targetCPUUtilizationPercentage" in spec:
        target = spec.pop("targetCPUUtilizationPercentage")
        if target is not None:
            spec["metrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            ]
    status = out.get("status")
    if isinstance(status, dict) and "currentCPUUtilizationPercentage" in status:
        current = status.pop("currentCPUUtilizationPercentage")
        if current is not None:
            status["currentMetrics"] = [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": current}},
                }
            ]
    return out


def to_v1(obj: Obj) -> Obj:
    out: Obj = deep_copy(obj)
    out["apiVersion"] = "autoscaling/v1"
    spec = out.get("spec")
    if isinstance(spec, dict):
        cpu = _cpu_metric(spec.pop("metrics", None))
        spec.pop("behavior", None)
        target = ((cpu or {}).get("target") or {}).get("averageUtilization")
        if target is not None:
            spec["targetCPUUtilizationPercentage"] = target
    status = out.get("status")
    if isinstance(status, dict):
        cpu = _cpu_metric(status.pop("currentMetrics", None))
        status.pop("conditions", None)
        current = ((cpu or {}).get("current") or {}).get("averageUtilization")
        if current is not None:
            status["currentCPUUtilizationPercentage"] = current
    return out
