"""Resource caps shared by every reader, set in ``[tool.aisupply.limits]``.

Each cap bounds the work or memory that one file can cost, whatever it claims about itself.
Hitting one is a finding that names the cap and how to raise it, never a silent pass. This
module imports nothing of the plugin (the configuration parser and the readers both use it).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

TABLE = "tool.aisupply.limits"


@dataclass(frozen=True)
class Limits:
    """The caps; every field is a key of ``[tool.aisupply.limits]`` (a positive integer)."""

    #: Containers nested in containers (zip in tar in gzip ...), levels.
    max_depth: int = 6
    #: Members of one zip or tar archive.
    max_members: int = 20_000
    #: Bytes decompressed while reading one file (all its compressed streams together).
    max_decompressed_bytes: int = 8 << 30
    #: How many times its compressed size a stream (or the whole file) may expand, once it has
    #: produced ``bomb_min_bytes``.
    bomb_ratio: int = 200
    #: Decompressed bytes below which the ratio is not checked (small files compress well).
    bomb_min_bytes: int = 256 << 20
    #: Bytes of a header that is parsed whole: a safetensors JSON header, a ``.npy`` header.
    max_header_bytes: int = 100_000_000
    #: Opcodes of one pickle stream (and the streams nested in it).
    max_pickle_opcodes: int = 50_000_000
    #: Bytes of a Python file, or of the code cells of a notebook, parsed with ``ast``.
    max_code_file_bytes: int = 2 << 20
    #: Bytes of a Jupyter notebook file (outputs included) read to find its code cells.
    max_notebook_bytes: int = 20 << 20

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(item.name for item in dataclasses.fields(cls))


def cap_hint(key: str) -> str:
    """How a message names a cap and says how to raise it."""
    return f"the {key} cap; to allow more, raise it with [{TABLE}] {key} = ..."
