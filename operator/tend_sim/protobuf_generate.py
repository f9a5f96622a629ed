"""Regenerate the protobuf schema of the built-in kinds: `protobuf_k8s.binpb` and
`protobuf_k8s.json`, beside this file, from checkouts of k8s.io/api and k8s.io/apimachinery.

    python -m tend_sim.protobuf_generate ../api ../apimachinery   # needs grpcio-tools (dev)

No maintained PyPI package ships the Kubernetes protobuf definitions (the one there is,
k8s-proto, stopped at Kubernetes 1.16 in 2019), so the simulator carries their compiled form:

- `protobuf_k8s.binpb`: a FileDescriptorSet compiled by protoc (grpcio-tools) from the
  `generated.proto` of every group the simulator serves; the `protobuf` runtime decodes with it.
- `protobuf_k8s.json`: what the .proto files do not say but the Go struct tags beside them do
  (`Name string \\`json:"name,omitempty" protobuf:"bytes,1,opt,name=name"\\``): which fields are
  embedded inline in JSON, which keep a zero value (pointers, or no omitempty) and JSON names
  that differ. gogo-protobuf writes every non-pointer field, so the decoder drops the zero ones
  that encoding/json would omit, as the API server's JSON output does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
API_GROUPS = (
    "core/v1",
    "apps/v1",
    "batch/v1",
    "coordination/v1",
    "discovery/v1",
    "events/v1",
    "networking/v1",
    "policy/v1",
    "rbac/v1",
    "scheduling/v1",
    "scheduling/v1alpha3",  # imported by batch/v1
    "authentication/v1",  # TokenRequest (serviceaccounts/token)
    "authorization/v1",  # the access reviews `kubectl auth can-i` sends
    "autoscaling/v1",  # Scale (the scale subresource)
    "autoscaling/v2",  # HorizontalPodAutoscaler (`kubectl autoscale`)
)
MACHINERY = (
    "pkg/apis/meta/v1",
    "pkg/runtime",
    "pkg/runtime/schema",
    "pkg/util/intstr",
    "pkg/api/resource",
)
_STRUCT = re.compile(r"^type (\w+) struct \{$")
_FIELD = re.compile(r"^\t(?:(\w+)\s+)?(\*?)[\w.\[\]*]+\s+`([^`]*)`")
_JSON_TAG = re.compile(r'json:"([^"]*)"')
_PROTO_TAG = re.compile(r'protobuf:"[^"]*name=(\w+)')


def go_fields(source: str, package: str) -> dict[str, dict[str, list[str] | dict[str, str]]]:
    """Per proto message (`package.Struct`): inline, keep-zero and renamed fields."""
    out: dict[str, dict[str, list[str] | dict[str, str]]] = {}
    current: str | None = None
    for line in source.splitlines():
        m = _STRUCT.match(line)
        if m:
            current = f"{package}.{m.group(1)}"
            continue
        if line == "}":
            current = None
            continue
        if current is None:
            continue
        f = _FIELD.match(line)
        if not f:
            continue
        _, pointer, tags = f.groups()
        proto = _PROTO_TAG.search(tags)
        js = _JSON_TAG.search(tags)
        if proto is None or js is None:
            continue
        json_name, _, opts = js.group(1).partition(",")
        entry = out.setdefault(current, {"inline": [], "keep": [], "json": {}})
        field = proto.group(1)
        if not json_name:  # an embedded struct, `json:",inline"` or `json:""`
            assert isinstance(entry["inline"], list)
            entry["inline"].append(field)
            continue
        if pointer or "omitempty" not in opts.split(","):
            assert isinstance(entry["keep"], list)
            entry["keep"].append(field)
        if json_name and json_name != field:
            assert isinstance(entry["json"], dict)
            entry["json"][field] = json_name
    return {k: v for k, v in out.items() if any(v.values())}


def main(api: Path, machinery: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        protos = []
        table: dict[str, dict[str, list[str] | dict[str, str]]] = {}
        sources = ((api, API_GROUPS, "k8s.io/api"), (machinery, MACHINERY, "k8s.io/apimachinery"))
        for base, dirs, prefix in sources:
            for d in dirs:
                target = root / prefix / d / "generated.proto"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text((base / d / "generated.proto").read_text())
                protos.append(str(target.relative_to(root)))
                package = f"{prefix}/{d}".replace("/", ".")
                for go in sorted((base / d).glob("*.go")):
                    if not go.name.endswith("_test.go") and not go.name.startswith("zz_"):
                        table.update(go_fields(go.read_text(), package))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{root}",
                "--include_imports",
                f"--descriptor_set_out={HERE / 'protobuf_k8s.binpb'}",
                *protos,
            ],
            check=True,
            cwd=root,
        )
    (HERE / "protobuf_k8s.json").write_text(json.dumps(table, sort_keys=True, indent=0) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
