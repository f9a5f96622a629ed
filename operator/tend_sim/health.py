"""`/healthz`, `/livez`, `/readyz` and their per-check paths, as kube-apiserver answers them
(`staging/src/k8s.io/apiserver/pkg/server/healthz/healthz.go`, `handleRootHealth` and
`adaptCheckToHandler`): `ok`, or with `?verbose` one `[+]name ok` line per check and
`<livez> check passed`; `?exclude=name` marks a check `excluded: ok` and warns about names that
match nothing; `/livez/<check>` answers that one check. The checks are the names a kube-apiserver
installs; the simulated ones always pass (the simulator has no etcd to lose).
"""

from __future__ import annotations

from aiohttp import web

_POST_START_HOOKS = (
    "poststarthook/start-apiserver-admission-initializer",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/start-apiextensions-informers",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/bootstrap-controller",
    "poststarthook/rbac/bootstrap-roles",
    "poststarthook/scheduling/bootstrap-system-priority-classes",
    "poststarthook/start-cluster-authentication-info-controller",
    "poststarthook/aggregator-reload-proxy-client-cert",
    "poststarthook/apiservice-registration-controller",
    "poststarthook/apiservice-discovery-controller",
)
CHECKS: dict[str, tuple[str, ...]] = {
    "healthz": ("ping", "log", "etcd", *_POST_START_HOOKS),
    "livez": ("ping", "log", "etcd", *_POST_START_HOOKS),
    "readyz": (
        "ping",
        "log",
        "etcd",
        "etcd-readiness",
        "informer-sync",
        *_POST_START_HOOKS,
        "shutdown",
    ),
}
_HEADERS = {"X-Content-Type-Options": "nosniff"}


def health_response(request: web.Request) -> web.Response | None:
    """The answer for a health path, or None when `request.path` is not one."""
    root, slash, check = request.path.lstrip("/").partition("/")
    checks = CHECKS.get(root)
    if checks is None:
        return None
    if slash:  # `/livez/` is no path of the mux; `/livez/<check>` is, for each check
        if check not in checks:
            return None
        return web.Response(text="ok", charset="utf-8", headers=_HEADERS)
    excluded = request.query.getall("exclude", [])
    unknown = sorted(set(excluded) - set(checks))
    lines = []
    for name in checks:
        lines.append(f"[+]{name} excluded: ok" if name in excluded else f"[+]{name} ok")
    if unknown:
        quoted = ",".join(f'"{n}"' for n in unknown)
        lines.append(f"warn: some health checks cannot be excluded: no matches for {quoted}")
    if "verbose" not in request.query:
        return web.Response(text="ok", charset="utf-8", headers=_HEADERS)
    body = "".join(f"{line}\n" for line in lines) + f"{root} check passed\n"
    return web.Response(text=body, charset="utf-8", headers=_HEADERS)
