"""The ManagedService API (`tend.dev/v1alpha1`): what users write and what tend reports.

These pydantic models are the single source of the API: the CRD is generated from them
(`tend crd`), `tend check` and the operator validate with them (`tend.api.validation`),
and the operator parses every object through them. Field names follow DESIGN.md; JSON
uses camelCase aliases.

- `base`: group/version/kind, shared field types (durations, quantities), the base model
- `core`: the core/v1 shapes passed through to the pod (env, envFrom, ports)
- `spec`: what to run and how to keep it running
- `status`, `reasons`: what tend reports, and the words it reports with
- `resource`: the ManagedService object itself
- `config`: the operator's own configuration (defaults, receivers)
- `validation`: everything wrong with a ManagedService, for `tend check` and the operator
- `crd`: the CustomResourceDefinition generated from the models
- `units`: durations and Kubernetes quantities

The model names are re-exported here, so callers write `from tend.api import ManagedService`.
"""

from tend.api.base import *  # noqa: F403
from tend.api.core import *  # noqa: F403
from tend.api.reasons import *  # noqa: F403
from tend.api.resource import *  # noqa: F403
from tend.api.spec import *  # noqa: F403
from tend.api.status import *  # noqa: F403
