"""Reading ManagedService manifests from files and directories, for the offline CLI.

Every YAML document is parsed; ManagedServices are validated with the models and
everything else (Namespaces, kustomizations, ...) is passed over. Problems carry
the file and the field so `tend check` can print one clear line for each.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tend.api import API_VERSION, KIND, ManagedService
from tend.api.validation import format_errors

YAML_SUFFIXES = {".yaml", ".yml", ".json"}
SKIPPED_NAMES = {"kustomization.yaml", "kustomization.yml", "Kustomization"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one manifest: where, which field, what to do."""

    source: str
    message: str
    object: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: {self.object}" if self.object else self.source
        return f"{where}: {self.message}"


@dataclass
class Manifests:
    """The ManagedServices found, where each came from, and what could not be read."""

    services: list[ManagedService] = field(default_factory=list)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def source_of(self, service: ManagedService) -> str:
        return self.sources.get(service.key, "?")


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if str(path) == "-" or path.is_file():
            yield path
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if (
                    child.is_file()
                    and child.suffix in YAML_SUFFIXES
                    and child.name not in SKIPPED_NAMES
                ):
                    yield child
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")


def _documents(path: Path) -> Iterator[tuple[str, Any]]:
    text = sys.stdin.read() if str(path) == "-" else path.read_text()
    source = "<stdin>" if str(path) == "-" else str(path)
    try:
        for index, doc in enumerate(yaml.safe_load_all(text)):
            yield (f"{source}#{index}" if index else source), doc
    except yaml.YAMLError as exc:
        yield source, exc


def _describe(doc: dict[str, Any]) -> str:
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = metadata.get("name", "<no name>") if metadata else "<no name>"
    namespace = (metadata or {}).get("namespace") or "default"
    return f"{KIND} {namespace}/{name}"


def load(paths: Iterable[Path], *, default_namespace: str = "default") -> Manifests:
    """Load every ManagedService under `paths` (files, directories, or `-` for stdin)."""
    result = Manifests()
    for path in _files(paths):
        for source, doc in _documents(path):
            if isinstance(doc, yaml.YAMLError):
                result.problems.append(Problem(source, f"not valid YAML: {doc}"))
                continue
            if doc is None:
                continue
            if not isinstance(doc, dict):
                result.problems.append(Problem(source, "expected a YAML mapping (an object)"))
                continue
            items = doc.get("items") if doc.get("kind") == "List" else [doc]
            for item in items or []:
                _add(result, source, item, default_namespace)
    return result


def _add(result: Manifests, source: str, doc: Any, default_namespace: str) -> None:
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        return
    label = _describe(doc)
    if doc.get("apiVersion") != API_VERSION:
        result.problems.append(
            Problem(
                source, f"apiVersion: must be {API_VERSION}, not {doc.get('apiVersion')!r}", label
            )
        )
        return
    body = dict(doc)
    metadata = dict(body.get("metadata") or {})
    metadata.setdefault("namespace", default_namespace)
    body["metadata"] = metadata
    try:
        service = ManagedService.model_validate(body)
    except ValidationError as exc:
        result.problems.extend(Problem(source, line, label) for line in format_errors(exc))
        return
    if service.key in result.sources:
        first = result.sources[service.key]
        result.problems.append(Problem(source, f"defined twice (first in {first})", label))
        return
    result.services.append(service)
    result.sources[service.key] = source
