"""The `tend` command line: offline tools, `run`, and the simulator's commands.

The offline tools (render, check, graph, crd) need no cluster; `run` starts the operator;
`demo` and `sim` load `tend_sim` only when asked for (see `main._simulator`).
"""
