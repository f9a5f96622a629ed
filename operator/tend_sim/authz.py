"""Authorization: request attributes and the RBAC authorizer over the stored RBAC objects.

What kube-apiserver does with `--authorization-mode=RBAC` (plus its privileged-group
authorizer, which allows everything for `system:masters`):

- `request_attributes` is staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go:
  the verb comes from the method and the URL alone (GET without a name is list, or watch with
  `?watch=true`; DELETE without a name is deletecollection), before routing, so a forbidden
  user gets 403 even for a resource that does not exist.
- the rule matching is pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches, APIGroupMatches,
  ResourceMatches with `*` and `*/subresource`, ResourceNameMatches, NonResourceURLMatches
  with a trailing `*`) and plugin/pkg/auth/authorizer/rbac/rbac.go's RuleAllows;
- the rules a user has are pkg/registry/rbac/validation/rule.go's VisitRulesFor: every
  ClusterRoleBinding, then the RoleBindings of the request's namespace, whose subjects apply
  to the user (a ServiceAccount subject without a namespace means the binding's namespace);
- `forbidden` is responsewriters.Forbidden + apierrors.NewForbidden, word for word.

Simplified: a ClusterRole with an `aggregationRule` gets the rules of the ClusterRoles its
selectors match when it is evaluated (the real clusterrole-aggregation controller writes them
into the object; here `.rules` of the stored object stays as written).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tend_sim.errors import ApiError
from tend_sim.objects import Obj

MASTERS = "system:masters"
RBAC_GROUP = "rbac.authorization.k8s.io"
SPECIAL_VERBS = ("proxy", "watch")
NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class UserInfo:
    """An authenticated identity (user.Info)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def privileged(self) -> bool:
        return MASTERS in self.groups

    def to_dict(self) -> dict[str, Any]:
        """authentication.k8s.io/v1 UserInfo."""
        out: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra}
        return out


@dataclass(frozen=True)
class Attributes:
    """authorizer.Attributes of one request."""

    user: UserInfo
    verb: str
    resource_request: bool
    path: str = ""
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_attributes(
    user: UserInfo, method: str, path: str, query: Mapping[str, str]
) -> Attributes:
    """RequestInfoFactory.NewRequestInfo (prefixes `api` groupless, `apis`)."""
    parts = [p for p in path.strip("/").split("/") if p] if path.strip("/") else []
    plain = Attributes(user, method.lower(), False, path=path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return plain
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:
            return plain
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts[0] in SPECIAL_VERBS:
        verb = parts[0]
        parts = parts[1:]
        if not parts:
            return Attributes(user, verb, True, path, api_group=group, api_version=version)
    else:
        verb = {
            "POST": "create",
            "GET": "get",
            "HEAD": "get",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete",
        }.get(method.upper(), "")
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    sub = parts[2] if len(parts) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        watch = query.get("watch")
        verb = "list" if watch is None or watch.lower() in ("false", "0") else "watch"
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, True, path, namespace, group, version, resource, sub, name)


# -- rule matching (evaluation_helpers.go) -------------------------------------------------------


def verb_matches(rule: Mapping[str, Any], verb: str) -> bool:
    verbs = rule.get("verbs") or ()
    return "*" in verbs or verb in verbs


def api_group_matches(rule: Mapping[str, Any], group: str) -> bool:
    groups = rule.get("apiGroups") or ()
    return "*" in groups or group in groups


def resource_matches(rule: Mapping[str, Any], combined: str, subresource: str) -> bool:
    for r in rule.get("resources") or ():
        if r == "*" or r == combined:
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def resource_name_matches(rule: Mapping[str, Any], name: str) -> bool:
    names = rule.get("resourceNames") or ()
    return not names or name in names


def non_resource_url_matches(rule: Mapping[str, Any], url: str) -> bool:
    for u in rule.get("nonResourceURLs") or ():
        if u == "*" or u == url:
            return True
        if u.endswith("*") and url.startswith(u.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Mapping[str, Any]) -> bool:
    if attrs.resource_request:
        return (
            verb_matches(rule, attrs.verb)
            and api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, attrs.combined_resource, attrs.subresource)
            and resource_name_matches(rule, attrs.name)
        )
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


# -- rule resolution (rule.go) -------------------------------------------------------------------


def applies_to(user: UserInfo, subject: Mapping[str, Any], binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return bool(ns) and user.name == f"system:serviceaccount:{ns}:{name}"
    return False


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


@dataclass(frozen=True)
class Source:
    """The binding a rule came through (for `RBAC: allowed by ...`)."""

    binding: Obj
    subject: Mapping[str, Any]

    def __str__(self) -> str:
        meta, ref = self.binding["metadata"], self.binding.get("roleRef") or {}
        ns = meta.get("namespace") or ""
        if ns:
            return (
                f'RoleBinding "{meta["name"]}/{ns}" of {ref.get("kind")} "{ref.get("name")}" '
                f"to {_describe_subject(self.subject, ns)}"
            )
        return (
            f'ClusterRoleBinding "{meta["name"]}" of {ref.get("kind")} "{ref.get("name")}" '
            f"to {_describe_subject(self.subject, '')}"
        )


class RBAC:
    """The RBAC authorizer over a Store's Roles, ClusterRoles and their bindings."""

    def __init__(self, store: Any) -> None:
        self.store = store
        reg = store.registry
        self._roles = reg.get(RBAC_GROUP, "v1", "roles")
        self._cluster_roles = reg.get(RBAC_GROUP, "v1", "clusterroles")
        self._bindings = reg.get(RBAC_GROUP, "v1", "rolebindings")
        self._cluster_bindings = reg.get(RBAC_GROUP, "v1", "clusterrolebindings")

    def _objects(self, rt: Any, namespace: str | None) -> list[Obj]:
        entries, *_ = self.store.list_entries(rt, namespace, None, None)
        return [e.obj for e in entries]

    def _cluster_role_rules(self, name: str) -> list[Mapping[str, Any]]:
        try:
            role = self.store.get_entry(self._cluster_roles, None, name).obj
        except ApiError:
            raise ApiError(
                404, "NotFound", f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
            ) from None
        rules = list(role.get("rules") or [])
        aggregation = role.get("aggregationRule") or {}
        selectors = aggregation.get("clusterRoleSelectors") or []
        if selectors:
            from tend_sim.selectors import label_selector_from_dict, labels_match
            from tend_sim.selectors import parse_label_selector as parse

            parsed = [parse(label_selector_from_dict(s)) for s in selectors if isinstance(s, dict)]
            for other in self._objects(self._cluster_roles, None):
                if other["metadata"]["name"] != name and any(
                    labels_match(p, other) for p in parsed
                ):
                    rules.extend(other.get("rules") or [])
        return rules

    def _role_ref_rules(self, ref: Mapping[str, Any], namespace: str) -> list[Mapping[str, Any]]:
        kind, name = ref.get("kind"), str(ref.get("name"))
        if kind == "ClusterRole":
            return self._cluster_role_rules(name)
        if kind == "Role":
            try:
                role = self.store.get_entry(self._roles, namespace, name).obj
            except ApiError:
                raise ApiError(
                    404, "NotFound", f'role.rbac.authorization.k8s.io "{name}" not found'
                ) from None
            return list(role.get("rules") or [])
        raise ApiError(400, "BadRequest", f"unsupported role reference kind: {kind!r}")

    def visit(
        self, user: UserInfo, namespace: str
    ) -> Iterator[tuple[Source | None, Mapping[str, Any] | None, str | None]]:
        """(source, rule, None) for each rule the user has in `namespace` (cluster-wide ones
        first), and (None, None, error) for each binding whose role is missing."""
        scopes: list[tuple[Any, str | None]] = [(self._cluster_bindings, None)]
        if namespace:
            scopes.append((self._bindings, namespace))
        for rt, ns in scopes:
            for binding in self._objects(rt, ns):
                bns = binding["metadata"].get("namespace") or ""
                subject = next(
                    (s for s in binding.get("subjects") or [] if applies_to(user, s, bns)), None
                )
                if subject is None:
                    continue
                try:
                    rules = self._role_ref_rules(binding.get("roleRef") or {}, bns)
                except ApiError as exc:
                    yield None, None, exc.message
                    continue
                source = Source(binding, subject)
                for rule in rules:
                    yield source, rule, None

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason) like the union of the privileged-group and RBAC authorizers."""
        if attrs.user.privileged:
            return True, ""
        errs: list[str] = []
        for source, rule, err in self.visit(attrs.user, attrs.namespace):
            if err is not None:
                errs.append(err)
            elif rule is not None and rule_allows(attrs, rule):
                return True, f"RBAC: allowed by {source}"
        if not errs:
            return False, ""
        joined = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
        return False, f"RBAC: {joined}"

    def rules_for(
        self, user: UserInfo, namespace: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        """(resourceRules, nonResourceRules, errors) for a SelfSubjectRulesReview."""
        resource_rules: list[dict[str, Any]] = []
        non_resource: list[dict[str, Any]] = []
        errs: list[str] = []
        for _, rule, err in self.visit(user, namespace):
            if err is not None:
                errs.append(err)
                continue
            assert rule is not None
            if rule.get("nonResourceURLs"):
                non_resource.append(
                    {"verbs": list(rule["verbs"]), "nonResourceURLs": list(rule["nonResourceURLs"])}
                )
            if rule.get("resources"):
                out: dict[str, Any] = {
                    "verbs": list(rule.get("verbs") or []),
                    "apiGroups": list(rule.get("apiGroups") or []),
                    "resources": list(rule["resources"]),
                }
                if rule.get("resourceNames"):
                    out["resourceNames"] = list(rule["resourceNames"])
                resource_rules.append(out)
        return resource_rules, non_resource, errs


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters.forbiddenMessage."""
    user = attrs.user.name
    if not attrs.resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = attrs.combined_resource
    if attrs.namespace:
        return (
            f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group '
            f'"{attrs.api_group}" in the namespace "{attrs.namespace}"'
        )
    return (
        f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group '
        f'"{attrs.api_group}" at the cluster scope'
    )


def forbidden(attrs: Attributes, reason: str) -> ApiError:
    """responsewriters.Forbidden: apierrors.NewForbidden(group/resource, name, message)."""
    msg = forbidden_message(attrs)
    if reason:
        msg = f"{msg}: {reason}"
    if not attrs.resource:
        return ApiError(403, "Forbidden", f"forbidden: {msg}")
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    head = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    return ApiError(
        403,
        "Forbidden",
        f"{head} is forbidden: {msg}",
        name=attrs.name or None,
        group=attrs.api_group,
        kind=attrs.resource,
    )
