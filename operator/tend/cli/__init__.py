"""The `tend` command line: offline tools, `run`, and the simulator's commands.

The offline tools (render, check, graph, crd) need no cluster; `run` starts the operator;
`demo` and `sim` come from `tend_sim`: at start-up only the table of `sim`'s commands is
read (`tend_sim.cli`, which needs typer alone); the simulated cluster and its dependencies
are loaded when a command runs (see `main._simulator`).
"""
