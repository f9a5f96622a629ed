"""The `tend` command line: offline tools (render, check, graph, crd), `run`, and the
simulator's commands (`demo`, `sim`), which load `tend_sim` only when asked for."""
