"""Build hook: compile the pickle walker with mypyc when it can be, for speed.

The walker reads every opcode of a pickle in Python; compiled by mypyc (the same source, with its
bounds and type checks kept) it runs about four times faster. The compiled module is optional:
where mypyc or a C compiler is missing, or ``AISUPPLY_PURE_PYTHON=1`` is set, the package installs
and works as pure Python.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

COMPILED = ["src/pytest_aisupply/formats/pickle.py"]


def compiled_modules() -> list[object]:
    if os.environ.get("AISUPPLY_PURE_PYTHON") == "1":
        return []
    try:
        from mypyc.build import mypycify

        extensions = mypycify(COMPILED, opt_level="3")
    except Exception as exc:  # no mypyc, or it cannot compile this Python: install pure Python
        print(f"pytest-aisupply: not compiling the pickle walker ({exc}); it runs as pure Python", file=sys.stderr)
        return []
    for extension in extensions:
        extension.optional = True  # a failing C build leaves the pure-Python module in place
    return list(extensions)


setup(ext_modules=compiled_modules())
