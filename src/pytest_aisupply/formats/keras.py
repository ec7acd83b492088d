"""Readers for Keras models whose configuration can carry code: Keras v3 archives (``.keras``: a
zip with ``config.json`` and ``metadata.json`` at its root) and legacy Keras H5 files (HDF5 with a
``model_config`` attribute on the root group, read with ``h5py`` when it is installed).

The configuration is JSON; :func:`scan_keras_config` walks it to any depth (functional,
sequential and nested sub-model configs alike) and records what makes loading run code: Lambda
layers, serialized Python lambdas (``__lambda__``, ``function_type: lambda``), functions
referenced from modules outside Keras, and special objects it does not know.

These readers are not among the built-in ones (the zip reader reads ``.keras`` archives for
pickles, and h5py is optional); the ``unsafe-format`` rule reads with them.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import importlib
import json
import lzma
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any, BinaryIO

from .core import ReadContext
from .misc import HDF5

#: What reading a zip member can raise for corrupt data (zlib and lzma have their own errors).
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error, lzma.LZMAError)
#: A configuration (config.json, model_config) larger than this is not parsed (a problem).
MAX_CONFIG_BYTES = 64 << 20
#: JSON nesting deeper than this, or more values than this, is not walked (a problem).
MAX_CONFIG_DEPTH = 200
MAX_CONFIG_VALUES = 5_000_000
#: Special objects keras.saving serializes as data; any other ``__x__`` class name is unknown.
DATA_OBJECTS = frozenset(
    {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__", "__typespec__"}
)
H5_ATTRIBUTES = ("model_config", "training_config")


@dataclass(frozen=True)
class KerasCode:
    """Something in a Keras configuration that runs or imports code when the model loads.

    ``kind`` is ``"lambda-layer"``, ``"lambda"`` (serialized Python bytecode), ``"function"``
    (a function imported from a module outside Keras) or ``"unknown-object"``."""

    kind: str
    name: str
    path: str
    details: tuple[str, ...] = ()


@dataclass
class KerasConfig:
    """The result of reading one configuration (``source``: config.json or an H5 attribute);
    ``inspected`` is False when it could not be read at all (see ``problems``)."""

    where: str
    source: str
    inspected: bool = True
    code: list[KerasCode] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class KerasArchiveReader:
    """Reads ``config.json`` of a Keras v3 archive and records a :class:`KerasConfig` under the
    ``keras_config`` detail."""

    name = "keras"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        result = KerasConfig(ctx.where, "config.json")
        ctx.add_detail("keras_config", result)
        if not _seekable(raw):
            _fail(result, "Keras archive inside a stream that cannot seek; not inspected")
            return
        try:
            with zipfile.ZipFile(raw) as archive:
                data = _read_member(archive, "config.json", result)
        except _ZIP_ERRORS as exc:
            _fail(result, f"zip archive cannot be read: {exc}")
            return
        if data is not None:
            scan_keras_json(data, "config.json", result)


def _read_member(archive: zipfile.ZipFile, name: str, result: KerasConfig) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        _fail(result, f"no {name} at the root of the archive, so its layers cannot be checked")
        return None
    if info.flag_bits & 0x1:
        _fail(result, f"{name} is encrypted")
        return None
    if info.file_size > MAX_CONFIG_BYTES:
        _fail(result, f"{name} is {info.file_size} bytes, over the cap of {MAX_CONFIG_BYTES}")
        return None
    with archive.open(info) as member:
        data = member.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        _fail(result, f"{name} expands past the cap of {MAX_CONFIG_BYTES} bytes")
        return None
    return data


def _import_h5py() -> ModuleType | None:
    try:
        return importlib.import_module("h5py")
    except ImportError:
        return None


class KerasH5Reader:
    """Reads the ``model_config`` (and ``training_config``) attribute of an HDF5 file's root group
    with h5py and records a :class:`KerasConfig` for each under ``keras_config``; files without
    them record nothing. Without h5py it records a ``keras_h5_unread`` detail instead.

    ``load_h5py`` returns the h5py module or None (tests pass ``lambda: None``)."""

    name = "hdf5"
    artifact = True

    def __init__(self, load_h5py: Callable[[], ModuleType | None] = _import_h5py) -> None:
        self._load_h5py = load_h5py

    def sniff(self, head: bytes, size: int | None) -> bool:
        return HDF5.sniff(head, size)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        h5py = self._load_h5py()
        if h5py is None:
            ctx.add_detail("keras_h5_unread", ctx.where)
            return
        if not _seekable(raw):
            result = KerasConfig(ctx.where, "HDF5 file")
            ctx.add_detail("keras_config", result)
            _fail(result, "HDF5 file inside a stream that cannot seek; not inspected")
            return
        try:
            with h5py.File(raw, "r") as handle:
                attributes = handle.attrs
                for key in H5_ATTRIBUTES:
                    if key in attributes:
                        self._attribute(attributes, key, ctx)
        except Exception as exc:  # h5py raises OSError, KeyError, ValueError, RuntimeError ...
            result = KerasConfig(ctx.where, "HDF5 file")
            ctx.add_detail("keras_config", result)
            _fail(result, f"HDF5 file cannot be read by h5py: {type(exc).__name__}: {exc}")

    def _attribute(self, attributes: Any, key: str, ctx: ReadContext) -> None:
        result = KerasConfig(ctx.where, f"{key} attribute")
        ctx.add_detail("keras_config", result)
        storage = attributes.get_id(key).get_storage_size()
        if storage > MAX_CONFIG_BYTES:
            _fail(result, f"the {key} attribute is {storage} bytes, over the cap of {MAX_CONFIG_BYTES}")
            return
        value = attributes[key]
        if hasattr(value, "tolist") and not isinstance(value, (bytes, str)):
            value = value.tolist()
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, bytes):
            data = value
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
        else:
            _fail(result, f"the {key} attribute is not a string (a {type(value).__name__})")
            return
        scan_keras_json(data, key, result)


def _seekable(raw: IO[bytes] | BinaryIO) -> bool:
    try:
        return raw.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def _fail(result: KerasConfig, message: str) -> None:
    result.inspected = False
    result.problems.append(message)


def scan_keras_json(data: bytes, label: str, result: KerasConfig) -> None:
    """Parse a JSON configuration and walk it into ``result``; bad JSON is a problem."""
    try:
        config = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        _fail(result, f"{label} is not UTF-8 (byte {exc.start})")
        return
    except (ValueError, RecursionError) as exc:
        _fail(result, f"{label} is not valid JSON: {exc}")
        return
    code, problems = scan_keras_config(config, label)
    result.code.extend(code)
    result.problems.extend(problems)
    if problems:
        result.inspected = False


def scan_keras_config(config: object, root: str) -> tuple[list[KerasCode], list[str]]:
    """Everything in a Keras configuration that runs or imports code when it loads, and the
    parts that could not be walked. Paths read like
    ``config.json > layers[2] Sequential 'block' > layers[1] Lambda 'scale'``."""
    walk = _ConfigWalk()
    walk.visit(config, [root], 0)
    return walk.code, walk.problems


class _ConfigWalk:
    def __init__(self) -> None:
        self.code: list[KerasCode] = []
        self.problems: list[str] = []
        self.values = 0

    def visit(self, value: object, path: list[str], depth: int) -> None:
        self.values += 1
        if self.values > MAX_CONFIG_VALUES:
            if self.values == MAX_CONFIG_VALUES + 1:
                self.problems.append(f"more than {MAX_CONFIG_VALUES} values; the rest is not checked")
            return
        if depth > MAX_CONFIG_DEPTH:
            self.problems.append(f"nested deeper than {MAX_CONFIG_DEPTH} levels at {' > '.join(path)}; not checked")
            return
        if isinstance(value, list):
            last = path[-1]
            for index, item in enumerate(value):
                self.visit(item, [*path[:-1], f"{last}[{index}]"], depth + 1)
            return
        if not isinstance(value, dict):
            return
        class_name = value.get("class_name")
        if isinstance(class_name, str):
            path = [*path[:-1], f"{path[-1]} {_describe(value)}"] if len(path) > 1 else path
            if self.object(value, class_name, path):
                return
        for key, item in value.items():
            if not isinstance(item, (dict, list)):
                continue
            if key == "config" and isinstance(class_name, str):
                self.visit(item, path if not isinstance(item, list) else [*path, key], depth + 1)
            else:
                self.visit(item, [*path, str(key)], depth + 1)

    def object(self, value: dict[str, Any], class_name: str, path: list[str]) -> bool:
        """Record a Keras object that carries or imports code; True when its inside need not be
        walked (a Lambda layer is reported once, with what it runs)."""
        where = " > ".join(path)
        module = value.get("module")
        inner = value.get("config")
        if class_name == "Lambda":
            self.code.append(KerasCode("lambda-layer", _layer_name(value), where, tuple(_lambda_runs(inner))))
            return True
        if class_name == "__lambda__" or (isinstance(inner, dict) and inner.get("function_type") == "lambda"):
            self.code.append(KerasCode("lambda", _layer_name(value), where))
            return True
        if class_name == "function":
            function = inner if isinstance(inner, str) else str(value.get("registered_name") or "?")
            if not _is_keras_module(module):
                self.code.append(KerasCode("function", function, where, (f"module: {_module_text(module)}",)))
            return True
        if class_name.startswith("__") and class_name.endswith("__"):
            if class_name == "__typespec__" and not _is_keras_module(module, also=("tensorflow",)):
                spec = str(value.get("spec_name") or "?")
                self.code.append(KerasCode("custom-object", spec, where, (f"module: {_module_text(module)}",)))
            elif class_name not in DATA_OBJECTS:
                self.code.append(KerasCode("unknown-object", class_name, where))
                return True
            return False
        registered = value.get("registered_name")
        custom = module is not None or registered is not None
        if custom and ("module" in value or "registered_name" in value) and not _is_keras_module(module):
            name = registered if isinstance(registered, str) and registered else class_name
            self.code.append(KerasCode("custom-object", name, where, (f"module: {_module_text(module)}",)))
        return False


#: Packages of the Keras family: objects from them are Keras's own.
KERAS_PACKAGES = ("keras", "tf_keras", "keras_hub", "keras_nlp", "keras_cv")


def _module_text(module: object) -> str:
    return module if isinstance(module, str) else "none (a class from __main__ or registered by name)"


def _is_keras_module(module: object, also: tuple[str, ...] = ()) -> bool:
    if not isinstance(module, str):
        return False
    top = module.split(".", 1)[0]
    return top in KERAS_PACKAGES or top in also


def _layer_name(value: dict[str, Any]) -> str:
    inner = value.get("config")
    name = inner.get("name") if isinstance(inner, dict) else None
    if not isinstance(name, str):
        name = value.get("name")
    return name if isinstance(name, str) else ""


def _describe(value: dict[str, Any]) -> str:
    name = _layer_name(value)
    return f"{value['class_name']} {name!r}" if name else str(value["class_name"])


def _lambda_runs(inner: object) -> list[str]:
    """What a Lambda layer's config says it runs (Keras 3 and Keras 2 layouts)."""
    if not isinstance(inner, dict):
        return []
    found = []
    for key in ("function", "output_shape", "mask"):
        item = inner.get(key)
        kind = inner.get(f"{key}_type")
        if isinstance(item, dict) and item.get("class_name") == "__lambda__":
            found.append(f"{key}: Python bytecode of a lambda (marshal, base64)")
        elif isinstance(item, dict) and item.get("class_name") == "function":
            found.append(f"{key}: function {item.get('config')!r} from module {_module_text(item.get('module'))}")
        elif kind == "lambda" and item is not None:
            found.append(f"{key}: Python bytecode of a lambda (marshal, base64)")
        elif kind == "function" and isinstance(item, str):
            found.append(f"{key}: function {item!r} from module {_module_text(inner.get('module'))}")
    return found
