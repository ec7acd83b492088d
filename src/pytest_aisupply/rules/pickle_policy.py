"""Which pickle globals ``pickle = "scan"`` allows: an allowlist, never a denylist."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: What real torch.save(state_dict / nn.Module), numpy arrays and scalars, OrderedDict and
#: joblib's numpy wrappers import; nothing more.
DEFAULT_ALLOWED = frozenset(
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.Size",
        *(
            f"torch.{kind}Storage"
            for kind in (
                "Float",
                "Double",
                "Half",
                "BFloat16",
                "Long",
                "Int",
                "Short",
                "Char",
                "Byte",
                "Bool",
                "ComplexFloat",
                "ComplexDouble",
            )
        ),
        *(
            f"torch.{dtype}"
            for dtype in (
                "float32",
                "float64",
                "float16",
                "bfloat16",
                "int64",
                "int32",
                "int16",
                "int8",
                "uint8",
                "bool",
            )
        ),
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.ndarray",
        "numpy.dtype",
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "_codecs.encode",
        "copyreg._reconstructor",
        "builtins.object",
        "builtins.set",
        "builtins.frozenset",
        "builtins.slice",
        "builtins.complex",
        "builtins.bytearray",
    }
)
#: Standard torch.nn module classes (CamelCase names only: classes, not module functions).
_TORCH_NN_CLASS = re.compile(r"torch\.nn\.modules\.[a-z_]+\.[A-Z]\w*\Z")
_NUMPY_DTYPE_CLASS = re.compile(r"numpy\.dtypes\.\w+DType\Z")

#: Globals that reach arbitrary code: a pattern never allows them, only their exact name does.
_NEVER_BY_PATTERN = re.compile(
    r"(builtins\.(getattr|setattr|eval|exec|compile|__import__|open|breakpoint|input|globals|vars)"
    r"|operator\.(attrgetter|methodcaller|getitem)"
    r"|functools\.(partial|reduce)"
    r"|importlib(\..*)?|pkgutil\.resolve_name|runpy\..*|code\..*|pickle\..*|_pickle\..*|marshal\..*"
    r"|types\.(FunctionType|CodeType)|torch\.storage\._load_from_bytes|torch\.load|torch\.hub\..*"
    r"|os\..*|posix\..*|nt\..*|subprocess\..*|sys\..*|shutil\..*|socket\..*|ctypes\..*)\Z"
)


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


@dataclass(frozen=True)
class PicklePolicy:
    exact: frozenset[str]
    prefixes: tuple[str, ...]

    @classmethod
    def from_settings(cls, extra: Iterable[str]) -> PicklePolicy:
        exact = set(DEFAULT_ALLOWED)
        prefixes = []
        for item in extra:
            if item.endswith(".*"):
                prefixes.append(item[:-1])
            else:
                exact.add(item)
        return cls(frozenset(exact), tuple(prefixes))

    def allows(self, dotted: str) -> bool:
        module, _, name = dotted.rpartition(".")
        # Protocol 0-2 pickles name Python 2 modules; the unpickler maps them (fix_imports).
        dotted = f"{_PY2_MODULES.get(module, module)}.{name}"
        if dotted in self.exact:
            return True
        if _NEVER_BY_PATTERN.match(dotted) or dotted.startswith("<"):
            return False
        if _TORCH_NN_CLASS.match(dotted) or _NUMPY_DTYPE_CLASS.match(dotted):
            return True
        return any(dotted.startswith(prefix) for prefix in self.prefixes)
