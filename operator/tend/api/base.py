"""The API's identity (group, version, kind), the shared field types, and the base model.

Durations and quantities are validated with `tend.api.units`; `cel` writes one
`x-kubernetes-validations` rule. `Model` gives every API type camelCase JSON and refuses
unknown fields.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    JsonValue,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from tend.api.units import (
    DURATION_HELP,
    DURATION_PATTERN,
    NON_NEGATIVE_QUANTITY_PATTERN,
    QUANTITY_HELP,
    parse_duration,
    parse_quantity,
)

__all__ = [
    "API_VERSION",
    "CONTAINER_NAME",
    "DNS_LABEL_PATTERN",
    "DNS_SUBDOMAIN_PATTERN",
    "ENV_NAME_PATTERN",
    "GROUP",
    "KIND",
    "PLURAL",
    "PORT_NAME_PATTERN",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "Duration",
    "IntOrString",
    "JsonDict",
    "Model",
    "Quantity",
    "cel",
]


JsonDict = dict[str, JsonValue]

GROUP = "tend.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ManagedService"
PLURAL = "managedservices"
SINGULAR = "managedservice"
SHORT_NAMES = ["msvc"]
# The one container of every pod tend builds: pod watchers find it without the spec.
CONTAINER_NAME = "main"

# DNS-1123 label (names of ports, Services, ManagedServices) and subdomain.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
PORT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # IANA_SVC_NAME, 1-15 chars
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _quantity(value: str | int | float) -> str:
    if parse_quantity(value) < 0:
        raise ValueError(f"must not be negative (got {value!r}): Kubernetes refuses it")
    return str(value)


Duration = Annotated[
    str,
    AfterValidator(_duration),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "description": DURATION_HELP}),
]
Quantity = Annotated[
    str | int | float,
    AfterValidator(_quantity),
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": NON_NEGATIVE_QUANTITY_PATTERN,
            "description": QUANTITY_HELP,
        }
    ),
]
IntOrString = Annotated[
    int | str,
    WithJsonSchema(
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    ),
]


def cel(rule: str, message: str, field_path: str | None = None) -> JsonDict:
    """One `x-kubernetes-validations` entry."""
    entry: JsonDict = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


class Model(BaseModel):
    """Base for API objects: camelCase JSON, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
        validate_default=False,
    )

    def to_api(self) -> dict[str, Any]:
        """The object as the API shows it: camelCase, unset optionals left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
