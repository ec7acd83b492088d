"""The real loaders as the oracle for the container handling: ``torch.load`` (its own zip reader,
the legacy tar and the legacy sequence of pickles), ``pandas.read_pickle`` (compression inferred
from the name), ``numpy.load(allow_pickle=True)`` (``.npy``, ``.npz`` members, the fallback to
pickle) and ``joblib.load``, each driven with recording unpicklers: every global the loader
resolves is recorded, and what comes back is a recording stub, so the payload never runs.

A few value constructors that the loaders need to go on reading a benign file the way they
really do (numpy's dtype and array reconstruction, joblib's array wrappers, torch's tensor
rebuild) are handed out for real; they build values and run no code of the file's choosing.

Patching ``pickle`` is global, so this runs as a script in a subprocess:
``python loader_oracle.py LOADER < paths.json > recordings.json``. It imports nothing of the
plugin. tests/formats/test_loaders.py compares its recordings with what the plugin reports.
"""

from __future__ import annotations

import importlib
import json
import pickle
import signal
import sys
import threading
import types
from typing import Any

#: Value constructors handed out for real (see the module docstring).
PASS_THROUGH = {
    ("collections", "OrderedDict"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("joblib.numpy_pickle_compat", "NDArrayWrapper"),
    ("joblib.numpy_pickle_compat", "ZNDArrayWrapper"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
}

_recorded: list[list[str]] = []
_calls: list[str] = []
_inside = threading.local()


class _StubMeta(type):
    def __call__(cls, *args: object, **kwargs: object) -> object:
        _calls.append(cls.__qualname__)
        return _stub(f"{cls.__qualname__}()")


def _stub(dotted: str) -> type:
    def setstate(self: object, state: object) -> None:
        del self, state

    stub = _StubMeta("Stub", (), {"__setstate__": setstate})
    stub.__qualname__ = dotted
    return stub


def _resolve(module: str, name: str) -> object:
    if (module, name) in PASS_THROUGH:
        return getattr(importlib.import_module(module), name)
    return _stub(f"{module}.{name}")


def _record_then(original: Any) -> Any:
    """A find_class that records the name it is asked for (before any renaming a loader's own
    find_class does), then lets the loader's find_class go on."""

    def find_class(self: object, module: str, name: str) -> object:
        outer = not getattr(_inside, "active", False)
        if outer:
            _recorded.append([str(module), str(name)])
        _inside.active = True
        try:
            return original(self, module, name)
        finally:
            if outer:
                _inside.active = False

    return find_class


def _base_find_class(self: object, module: str, name: str) -> object:
    if not getattr(_inside, "active", False):
        _recorded.append([str(module), str(name)])
    return _resolve(module, name)


class RecordingUnpickler(pickle.Unpickler):
    """CPython's C unpickler; torch subclasses it (its UnpicklerWrapper renames modules), so the
    subclass's find_class is wrapped to record the names the stream asks for."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "find_class" in cls.__dict__:
            cls.find_class = _record_then(cls.__dict__["find_class"])  # type: ignore[method-assign]

    def find_class(self, module: str, name: str) -> Any:
        return _base_find_class(self, module, name)


def _load(file: Any, **kwargs: Any) -> Any:
    return RecordingUnpickler(file, **kwargs).load()


def _loads(data: bytes, /, **kwargs: Any) -> Any:
    import io

    return RecordingUnpickler(io.BytesIO(data), **kwargs).load()


def _install() -> types.ModuleType:
    """Replace every unpickler the loaders reach: pickle.load/loads/Unpickler (numpy, pandas,
    joblib's object arrays), pickle._Unpickler (joblib, pandas' compat unpickler)."""
    pickle.load = _load  # type: ignore[assignment]
    pickle.loads = _loads  # type: ignore[assignment]
    pickle.Unpickler = RecordingUnpickler  # type: ignore[misc]
    pickle._Unpickler.find_class = _base_find_class  # type: ignore[attr-defined]
    module = types.ModuleType("recording_pickle")
    module.load = _load  # type: ignore[attr-defined]
    module.loads = _loads  # type: ignore[attr-defined]
    module.Unpickler = RecordingUnpickler  # type: ignore[attr-defined]
    module.Pickler = pickle.Pickler  # type: ignore[attr-defined]
    return module


def _drive(loader: str, path: str, recording_module: types.ModuleType) -> None:
    if loader == "pickle.load":
        with open(path, "rb") as handle:
            pickle.load(handle)
    elif loader == "torch.load":
        import torch

        torch.load(path, weights_only=False, pickle_module=recording_module, map_location="cpu")
    elif loader == "pandas.read_pickle":
        import pandas

        pandas.read_pickle(path)
    elif loader == "pandas.read_pickle of each extracted file":
        import os
        import tarfile
        import tempfile

        import pandas

        with tempfile.TemporaryDirectory() as out:
            with tarfile.open(path) as archive:
                archive.extractall(out, filter="data")
            for name in sorted(os.listdir(out)):
                pandas.read_pickle(os.path.join(out, name))
    elif loader == "numpy.load":
        import numpy

        loaded = numpy.load(path, allow_pickle=True)
        if hasattr(loaded, "files"):  # an NpzFile reads a member when it is asked for
            with loaded:
                for name in loaded.files:
                    loaded[name]
    elif loader == "joblib.load":
        import joblib

        joblib.load(path)
    else:
        raise SystemExit(f"unknown loader {loader}")


def _timeout(signum: int, frame: object) -> None:
    raise TimeoutError("the loader took more than 20 seconds")


def main() -> None:
    loader = sys.argv[1]
    paths = json.load(sys.stdin)
    recording_module = _install()
    if loader == "pandas.read_pickle":
        from pandas.compat import pickle_compat

        pickle_compat.Unpickler.find_class = _record_then(pickle_compat.Unpickler.find_class)  # type: ignore[method-assign]
    signal.signal(signal.SIGALRM, _timeout)
    results = []
    for path in paths:
        _recorded.clear()
        _calls.clear()
        signal.alarm(20)
        try:
            _drive(loader, path, recording_module)
            stopped = "loaded"
        except RecursionError:
            stopped = "recursion"
        except Exception as exc:  # the loader's own errors end its reading
            stopped = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            signal.alarm(0)
        results.append({"path": path, "globals": list(_recorded), "calls": list(_calls), "stopped": stopped})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
