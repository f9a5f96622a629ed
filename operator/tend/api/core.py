"""The core/v1 shapes a ManagedService passes through to its pod: env, envFrom, ports."""

from __future__ import annotations

from enum import StrEnum

from pydantic import (
    ConfigDict,
    Field,
    model_validator,
)

from tend.api.base import (
    DNS_SUBDOMAIN_PATTERN,
    ENV_NAME_PATTERN,
    PORT_NAME_PATTERN,
    Model,
    Quantity,
    cel,
)

__all__ = [
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "KeySelector",
    "NamedRef",
    "ObjectFieldSelector",
    "Port",
    "Protocol",
    "ResourceFieldSelector",
]


class KeySelector(Model):
    """Selects a key of a ConfigMap or Secret."""

    name: str = Field(min_length=1, description="Name of the ConfigMap or Secret.")
    key: str = Field(min_length=1, description="The key to select.")
    optional: bool | None = Field(None, description="Whether the object or key may be missing.")


# The pod fields the downward API offers to env vars (k8s.io/kubernetes pkg/apis/core/
# validation validEnvDownwardAPIFieldPathExpressions, and labels['k'] / annotations['k']).
FIELD_PATH_PATTERN = (
    r"^(metadata\.(name|namespace|uid|labels|annotations)"
    r"|metadata\.(labels|annotations)\['[^']+'\]"
    r"|spec\.(nodeName|serviceAccountName)"
    r"|status\.(hostIP|hostIPs|podIP|podIPs))$"
)


class ObjectFieldSelector(Model):
    """Selects a field of the pod (downward API)."""

    field_path: str = Field(
        pattern=FIELD_PATH_PATTERN,
        description="Path of the field, e.g. metadata.name or status.podIP.",
    )
    api_version: str | None = Field(None, description="Version of the schema the path is in.")


class ResourceFieldSelector(Model):
    """Selects a resource of the container (downward API)."""

    resource: str = Field(description="Resource to select, e.g. limits.memory.")
    container_name: str | None = Field(None, description="Container name; defaults to this one.")
    divisor: Quantity | None = Field(None, description="Output unit for the resource.")


class EnvVarSource(Model):
    """Where an environment variable's value comes from; set exactly one."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.secretKeyRef), has(self.configMapKeyRef), has(self.fieldRef),"
                    " has(self.resourceFieldRef)].filter(x, x).size() == 1",
                    "set exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef",
                )
            ]
        }
    )

    secret_key_ref: KeySelector | None = Field(None, description="A key of a Secret.")
    config_map_key_ref: KeySelector | None = Field(None, description="A key of a ConfigMap.")
    field_ref: ObjectFieldSelector | None = Field(None, description="A field of the pod.")
    resource_field_ref: ResourceFieldSelector | None = Field(
        None, description="A resource limit or request of the container."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvVarSource:
        chosen = [
            self.secret_key_ref,
            self.config_map_key_ref,
            self.field_ref,
            self.resource_field_ref,
        ]
        if sum(x is not None for x in chosen) != 1:
            raise ValueError(
                "set exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef"
            )
        return self


class EnvVar(Model):
    """An environment variable (core v1 EnvVar)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("!(has(self.value) && has(self.valueFrom))", "set value or valueFrom, not both")
            ]
        }
    )

    name: str = Field(pattern=ENV_NAME_PATTERN, description="Name of the variable.")
    value: str | None = Field(None, description="Literal value.")
    value_from: EnvVarSource | None = Field(None, description="Value taken from another object.")

    @model_validator(mode="after")
    def _value_or_source(self) -> EnvVar:
        if self.value is not None and self.value_from is not None:
            raise ValueError("set value or valueFrom, not both")
        return self


class NamedRef(Model):
    """A reference to a ConfigMap or Secret by name."""

    name: str = Field(pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the object.")
    optional: bool | None = Field(None, description="Whether the object may be missing.")


class EnvFromSource(Model):
    """Imports every key of a ConfigMap or Secret as environment variables."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.configMapRef) != has(self.secretRef)",
                    "set exactly one of configMapRef, secretRef",
                )
            ]
        }
    )

    prefix: str | None = Field(None, description="Prefix added to every variable name.")
    config_map_ref: NamedRef | None = Field(None, description="The ConfigMap to import.")
    secret_ref: NamedRef | None = Field(None, description="The Secret to import.")

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvFromSource:
        if (self.config_map_ref is None) == (self.secret_ref is None):
            raise ValueError("set exactly one of configMapRef, secretRef")
        return self


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class Port(Model):
    """A port the container listens on; services with ports get a ClusterIP Service."""

    name: str = Field(
        pattern=PORT_NAME_PATTERN,
        max_length=15,
        description="Port name (IANA service name); probes and the Service refer to it.",
    )
    container_port: int = Field(ge=1, le=65535, description="Port number in the container.")
    protocol: Protocol = Field(Protocol.TCP, description="TCP, UDP or SCTP.")
    service_port: int | None = Field(
        None, ge=1, le=65535, description="Port on the Service; defaults to containerPort."
    )
