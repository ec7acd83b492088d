"""Format readers: content-based detection and static reading of model and data files."""

from __future__ import annotations

import os

from ..limits import Limits

if os.environ.get("AISUPPLY_PURE_PYTHON") == "1":
    # Run the pickle walker from its .py source even where mypyc compiled it (see setup.py): the
    # same switch that builds the package without compiling, for comparing the two.
    import importlib.util
    import sys

    _spec = importlib.util.spec_from_file_location(
        f"{__name__}.pickle", os.path.join(os.path.dirname(__file__), "pickle.py")
    )
    if _spec is not None and _spec.loader is not None:
        _module = importlib.util.module_from_spec(_spec)
        sys.modules[_spec.name] = _module
        _spec.loader.exec_module(_module)

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
