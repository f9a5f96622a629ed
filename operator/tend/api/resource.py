"""The ManagedService object: metadata, spec and status."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    model_validator,
)

from tend.api.base import (
    API_VERSION,
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    KIND,
    Model,
    cel,
)
from tend.api.spec import ManagedServiceSpec
from tend.api.status import ManagedServiceStatus

__all__ = [
    "ManagedService",
    "ObjectMeta",
]


# --- the object ---------------------------------------------------------------------------


class ObjectMeta(Model):
    """The parts of metadata tend reads."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)
    namespace: str | None = Field(None, pattern=DNS_LABEL_PATTERN, max_length=63)
    uid: str | None = None
    generation: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class ManagedService(Model):
    """A service tend runs: `kubectl apply` one per service."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.spec.dependsOn) || self.spec.dependsOn.all(d,"
                    " !has(d.name) || has(d.namespace) || d.name != self.metadata.name)",
                    "spec.dependsOn: a ManagedService cannot depend on itself",
                    ".spec.dependsOn",
                )
            ]
        }
    )

    api_version: Literal["tend.dev/v1alpha1"] = Field("tend.dev/v1alpha1", description=API_VERSION)
    kind: Literal["ManagedService"] = Field("ManagedService", description=KIND)
    metadata: ObjectMeta
    spec: ManagedServiceSpec
    status: ManagedServiceStatus | None = None

    @model_validator(mode="after")
    def _no_self_dependency(self) -> ManagedService:
        # The same rule as the CEL one above (which cannot see metadata.namespace): a
        # dependency naming this service without a namespace. One that spells out its own
        # namespace passes, and the dependency graph reports it as the cycle `api → api`.
        for index, dep in enumerate(self.spec.depends_on or []):
            if dep.name == self.metadata.name and dep.namespace is None:
                raise ValueError(
                    f"spec.dependsOn[{index}]: a ManagedService cannot depend on itself"
                )
        return self

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or "default"

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)
