"""The `tend` command line: the offline tools, the simulator, and the operator."""

from __future__ import annotations

import importlib
import importlib.util
import json
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from tend.api import ManagedService, validation
from tend.api.config import OperatorConfig, load_config
from tend.api.validation import format_errors
from tend.cli import manifests
from tend.logic import builders, graph

app = typer.Typer(
    name="tend",
    help="Run services declared as ManagedService resources on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Files = Annotated[
    list[Path],
    typer.Option(
        "-f",
        "--filename",
        help="A manifest file or directory (repeatable); - reads standard input.",
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="Operator configuration file (YAML); env TEND_* overrides it."),
]


class Output(StrEnum):
    YAML = "yaml"
    JSON = "json"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class GraphFormat(StrEnum):
    TEXT = "text"
    DOT = "dot"
    MERMAID = "mermaid"


def _dump_yaml(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=100)


def _load(files: list[Path]) -> manifests.Manifests:
    if not files:
        raise typer.BadParameter("give at least one -f FILE or DIR", param_hint="-f")
    try:
        return manifests.load(files)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="-f") from exc


def _settings(path: Path | None) -> OperatorConfig:
    """The operator configuration, or an error that names the file, the field and the fix."""
    try:
        return load_config(path)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc
    except ValidationError as exc:
        where = str(path) if path else "TEND_* environment"
        _fail([f"tend: {where}: {line}" for line in format_errors(exc)], code=2)
        raise  # not reached


def _fail(lines: list[str], code: int = 1) -> None:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


@app.command()
def crd() -> None:
    """Print the ManagedService CustomResourceDefinition (generated from the models)."""
    from tend.api.crd import render_crd_yaml

    typer.echo(render_crd_yaml(), nl=False)


@app.command()
def render(
    filename: Files = [],  # noqa: B006 - typer reads the default, never mutates it
    output: Annotated[Output, typer.Option("-o", "--output")] = Output.YAML,
    config: ConfigFile = None,
) -> None:
    """Print the objects the operator would create for the given ManagedServices."""
    found = _load(filename)
    if found.problems:
        _fail([str(p) for p in found.problems])
    settings = _settings(config)
    errors = [
        f"{where}: {problem}"
        for service, where in _labelled(found)
        for problem in validation.problems(service, settings)
    ]
    if errors:
        _fail(errors)
    docs = [obj for service in found.services for obj in builders.build_all(service, settings)]
    if output == Output.JSON:
        typer.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=2))
    else:
        typer.echo(_dump_yaml(docs), nl=False)


def _labelled(found: manifests.Manifests) -> list[tuple[ManagedService, str]]:
    return [
        (service, f"{found.source_of(service)}: {service.namespace}/{service.name}")
        for service in found.services
    ]


def problems_of(found: manifests.Manifests, settings: OperatorConfig) -> list[str]:
    """Everything `tend check` reports: what the operator would refuse (the one validation
    of `tend.api.validation`), and the dependency graph's cycles and missing services."""
    lines = [str(p) for p in found.problems]
    for service, where in _labelled(found):
        lines.extend(f"{where}: {problem}" for problem in validation.problems(service, settings))
    deps = graph.Graph.from_services(found.services)
    for problem in deps.problems():
        source = found.sources.get((problem.ref.namespace, problem.ref.name), "?")
        lines.append(
            f"{source}: {problem.ref.namespace}/{problem.ref.name}: "
            f"{problem.field}: {problem.reason}: {problem.message}"
        )
    return lines


@app.command()
def check(filename: Files = [], config: ConfigFile = None) -> None:  # noqa: B006
    """Validate ManagedServices offline: schema, buildability and dependencies."""
    found = _load(filename)
    lines = problems_of(found, _settings(config))
    if lines:
        typer.echo(f"{len(lines)} problem(s) found:", err=True)
        _fail(lines)
    typer.echo(f"ok: {len(found.services)} ManagedService(s), no problems")


@app.command("graph")
def graph_command(
    filename: Files = [],  # noqa: B006
    format: Annotated[GraphFormat, typer.Option("--format")] = GraphFormat.TEXT,
) -> None:
    """Print the start order in waves, and any cycles or missing dependencies."""
    found = _load(filename)
    if found.problems:
        _fail([str(p) for p in found.problems])
    deps = graph.Graph.from_services(found.services)
    render_fn = {
        GraphFormat.TEXT: graph.render_text,
        GraphFormat.DOT: graph.render_dot,
        GraphFormat.MERMAID: graph.render_mermaid,
    }[format]
    typer.echo(render_fn(deps), nl=False)
    if deps.problems():
        raise typer.Exit(1)


@app.command("run")
def run_command(
    namespace: Annotated[
        list[str],
        typer.Option("--namespace", "-n", help="Watch this namespace (repeatable)."),
    ] = [],  # noqa: B006
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Watch every namespace (default).")
    ] = False,
    selector: Annotated[
        str | None,
        typer.Option("--selector", "-l", help="Only ManagedServices with these labels (sharding)."),
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Default: $KUBECONFIG or in-cluster.")
    ] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    metrics_port: Annotated[int, typer.Option("--metrics-port", help="0 disables.")] = 9090,
    health_port: Annotated[
        int, typer.Option("--health-port", help="kopf liveness at /healthz; 0 disables.")
    ] = 8080,
    log_format: Annotated[LogFormat, typer.Option("--log-format")] = LogFormat.TEXT,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    standalone: Annotated[
        bool, typer.Option("--standalone", help="No peering: do not coordinate with replicas.")
    ] = False,
    peering: Annotated[str, typer.Option("--peering", help="kopf peering object name.")] = "tend",
    peering_mandatory: Annotated[
        bool,
        typer.Option(
            "--peering-mandatory",
            help="Refuse to start without the peering object (HA: never two active replicas).",
        ),
    ] = False,
    priority: Annotated[int, typer.Option("--priority", help="Peering priority.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256)] = 8,
    config: ConfigFile = None,
) -> None:
    """Run the operator (in-cluster, or against $KUBECONFIG)."""
    import asyncio

    import kopf

    from tend.runtime import heap
    from tend.runtime.handlers import RunOptions, run
    from tend.runtime.metrics import Metrics, serve_metrics
    from tend.runtime.peering import PeeringMissing

    if all_namespaces and namespace:
        raise typer.BadParameter("use either --namespace or --all-namespaces", param_hint="-n")
    if standalone and peering_mandatory:
        raise typer.BadParameter(
            "use either --standalone or --peering-mandatory", param_hint="--peering-mandatory"
        )
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if log_format == LogFormat.JSON else kopf.LogFormat.FULL,
    )
    options = RunOptions(
        namespaces=namespace,
        selector=selector,
        kubeconfig=kubeconfig,
        context=context,
        liveness_port=health_port or None,
        standalone=standalone,
        peering=peering,
        peering_mandatory=peering_mandatory,
        priority=priority,
        workers=workers,
        config=_settings(config),
        metrics=Metrics(),
    )
    if metrics_port:
        assert options.metrics is not None
        serve_metrics(options.metrics, metrics_port)
    heap.freeze_survivors()  # keeps full-collection pauses short with large caches
    try:
        asyncio.run(run(options))
    except PeeringMissing as exc:
        _fail([f"tend: {exc}"], code=2)


@app.command()
def demo(
    samples: Annotated[Path, typer.Option("--samples", help="Manifests to apply.")] = Path(
        "deploy/samples"
    ),
    failures: Annotated[
        Path, typer.Option("--failures", help="Scripted failures to apply (they page).")
    ] = Path("deploy/samples/failures"),
    speed: Annotated[float, typer.Option("--speed", help="Simulated time speed-up.")] = 10.0,
    timeout: Annotated[float, typer.Option("--timeout", help="Give up after (seconds).")] = 120.0,
    keep: Annotated[bool, typer.Option("--keep", help="Keep running; print a kubeconfig.")] = False,
) -> None:
    """Run the real operator on the simulated cluster with the sample manifests."""
    import asyncio
    import logging

    run_demo = _simulator("tend_sim.demo").demo
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not samples.exists():
        raise typer.BadParameter(f"{samples}: no such file or directory", param_hint="--samples")
    code = asyncio.run(
        run_demo(samples, failures=failures, speed=speed, deadline=timeout, keep=keep)
    )
    raise typer.Exit(code)


SIM_MISSING = (
    "the simulated cluster (package tend_sim) is not installed here; the operator image does "
    "not carry it. From a checkout of tend: pip install -e '.[sim]' (or make demo)"
)


def _simulator(module: str) -> ModuleType:
    """A module of `tend_sim`, imported by name only when a command needs it: the operator
    package never imports the simulator (an import-linter contract), and its image lacks it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith(("tend_sim", "celpy", "lark", "kubernetes")):
            raise
        typer.echo(f"tend: {SIM_MISSING} ({exc.name} is missing)", err=True)
        raise typer.Exit(2) from exc


def _mount_simulator() -> None:
    """`tend sim ...`: the simulator's own commands when it is installed, else one that says
    how to install it."""
    help_text = "The simulated cluster used by the tests and the demo."
    if importlib.util.find_spec("tend_sim") is not None:
        app.add_typer(_simulator("tend_sim.cli").app, name="sim", help=help_text)
        return

    @app.command("sim", help=help_text, context_settings={"ignore_unknown_options": True})
    def sim_missing(args: Annotated[list[str] | None, typer.Argument(hidden=True)] = None) -> None:
        typer.echo(f"tend: {SIM_MISSING}", err=True)
        raise typer.Exit(2)


_mount_simulator()

receivers_app = typer.Typer(help="The alert receivers configured on the operator.")
app.add_typer(receivers_app, name="receivers", no_args_is_help=True)


@receivers_app.command("test")
def receivers_test(
    config: ConfigFile = None,
    receiver: Annotated[
        list[str], typer.Option("--receiver", help="Only this receiver (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="For receivers' Secrets (default: $KUBECONFIG)."),
    ] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
) -> None:
    """Send one clearly marked test notification to each configured receiver (and, where
    the receiver supports it, resolve it at once) and report what each answered."""
    import asyncio

    from tend.runtime.receivers import send_tests

    settings = _settings(config)
    unknown = [name for name in receiver if name not in {r.name for r in settings.receivers}]
    if unknown or not settings.receivers:
        configured = ", ".join(r.name for r in settings.receivers) or "none"
        _fail([f"tend: unknown receiver {unknown[0]!r} (configured: {configured})" if unknown
               else "tend: no receivers configured (receivers: in --config, or TEND_RECEIVERS)"],
              code=2)  # fmt: skip
    results = asyncio.run(send_tests(settings, receiver, kubeconfig, context))
    for line in results.lines:
        typer.echo(line)
    if results.failed:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="tend")


if __name__ == "__main__":  # pragma: no cover
    main()
