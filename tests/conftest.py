"""Shared test setup.

hypothesis is imported here, at start-up, rather than lazily by its pytest plugin: a lazy
import can happen while the operator's thread imports too, and CPython 3.11's parser is not
safe for that (SystemError: AST constructor recursion depth mismatch).
"""

import hypothesis  # noqa: F401
