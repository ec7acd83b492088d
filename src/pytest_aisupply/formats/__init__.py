"""Format readers: content-based detection and static reading of model and data files.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import os

from ..settings.limits import Limits
from .walker_source import load_walker_source

if os.environ.get("AISUPPLY_PURE_PYTHON") == "1":
    # The switch that builds the package without compiling also runs a compiled install's source.
    load_walker_source()

from .archives import RAR, SEVEN_ZIP, TarReader, ZipReader
from .compression import compressed_readers
from .core import (
    HEAD_SIZE,
    ArtifactFacts,
    FormatReader,
    PickleFact,
    Problem,
    ReadContext,
    analyze_path,
    sniff_path,
)
from .gguf import GgufReader
from .misc import HDF5, NOT_ARTIFACTS, TextReader
from .numpy import NpyReader
from .onnx import OnnxReader
from .pickles import HeaderlessPickleReader, PickleReader
from .safetensors import SafetensorsReader
from .savedmodel import SavedModelReader

__all__ = [
    "HEAD_SIZE",
    "ArtifactFacts",
    "FormatReader",
    "Limits",
    "PickleFact",
    "Problem",
    "ReadContext",
    "analyze_path",
    "builtin_readers",
    "sniff_path",
]


def builtin_readers() -> list[FormatReader]:
    """The built-in readers, strongest evidence first: fixed magic bytes, then weaker signatures
    (zlib, headerless pickle) that must also parse, then text."""
    compressed = compressed_readers()
    zlib = [reader for reader in compressed if reader.name == "zlib"]
    return [
        PickleReader(),
        ZipReader(),
        TarReader(),
        SEVEN_ZIP,
        RAR,
        *[reader for reader in compressed if reader.name != "zlib"],
        NpyReader(),
        SafetensorsReader(),
        GgufReader(),
        HDF5,
        SavedModelReader(),
        OnnxReader(),
        *NOT_ARTIFACTS,
        *zlib,
        HeaderlessPickleReader(),
        TextReader(),
    ]
