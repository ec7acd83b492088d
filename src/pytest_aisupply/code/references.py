"""Hub references and pickle-loading calls found by reading Python code with :mod:`ast`.

Calls are matched by what their callee resolves to through the module's imports (``import x as
y``, ``from x import y``), simple aliases (``loader = AutoModel``) and instances (``api =
HfApi()``). Argument values are resolved through literals, f-strings and ``+`` of constants, and
constant assignments at module level or earlier in the same function; anything else is
"unresolved", which the rules treat as not verifiable.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

_REPO_ID: Final = re.compile(r"[\w.-]+(/[\w.-]+)?\Z")


class _Unresolved:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED: Final = _Unresolved()
Value = str | bool | int | None | _Unresolved

HUB_PACKAGES: Final = frozenset(
    {
        "transformers",
        "diffusers",
        "peft",
        "sentence_transformers",
        "huggingface_hub",
        "optimum",
        "setfit",
        "span_marker",
        "accelerate",
        "timm",
        "open_clip",
        "llama_cpp",
        "vllm",
    }
)
#: ``datasets.load_dataset`` builders shipped with the library: not Hub repositories.
PACKAGED_BUILDERS: Final = frozenset(
    {
        "json",
        "csv",
        "parquet",
        "text",
        "arrow",
        "pandas",
        "imagefolder",
        "audiofolder",
        "videofolder",
        "webdataset",
        "generator",
        "sql",
        "xml",
        "spark",
        "cache",
        "pdffolder",
    }
)


@dataclass(frozen=True)
class HubReference:
    """A call that fetches from the Hugging Face Hub (or GitHub through torch.hub)."""

    api: str
    repo_type: str
    repo_id: str | _Unresolved
    revision: str | _Unresolved | None
    line: int
    col: int
    end_line: int
    can_pin: bool = True
    trust_remote_code: bool | _Unresolved = False
    code_revision: str | _Unresolved | None = None
    custom_pipeline: str | _Unresolved | None = None
    custom_revision: str | _Unresolved | None = None
    use_safetensors_false: bool = False


@dataclass(frozen=True)
class UnsafeLoad:
    """A call or assignment that deserialises with pickle semantics."""

    api: str
    problem: str
    fix: str
    line: int
    col: int
    end_line: int


@dataclass
class CodeFacts:
    references: list[HubReference] = field(default_factory=list)
    unsafe_loads: list[UnsafeLoad] = field(default_factory=list)
    error: str | None = None


def extract(text: str, filename: str, base_dir: Path | None = None) -> CodeFacts:
    """Parse ``text`` and return what it references. A syntax error is reported, not raised."""
    try:
        with warnings.catch_warnings():
            # Invalid escapes and the like are warnings, which "-W error" would turn into errors.
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        return CodeFacts(error=f"does not parse as Python{where}: {getattr(exc, 'msg', exc)}")
    if not _worth_visiting(tree):
        return CodeFacts()
    visitor = _Visitor(base_dir)
    try:
        visitor.visit(tree)
    except RecursionError:
        return CodeFacts(error="nested too deeply to be analysed")
    return visitor.facts


#: Last names of every callable the visitor knows (aliases of them are added per file).
_TRIGGER_NAMES: Final = frozenset(
    {
        "from_pretrained",
        "hf_hub_download",
        "snapshot_download",
        "pipeline",
        "SentenceTransformer",
        "CrossEncoder",
        "load_dataset",
        "LLM",
        "create_model",
        "create_model_and_transforms",
        "create_model_from_pretrained",
        "load",
        "loads",
        "Unpickler",
        "read_pickle",
        "load_model",
        "DbfilenameShelf",
        "list",
        "help",
    }
)


def _terminal_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _worth_visiting(tree: ast.AST) -> bool:
    """A cheap single walk: does the file call anything the visitor knows, under any alias,
    or mention an ``hf://`` path or patch a ``load``? Most files of a code base do not."""
    triggers = set(_TRIGGER_NAMES)
    called: set[str] = set()
    aliases: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _terminal_name(node.func)
            if name:
                called.add(name)
            if isinstance(node.func, ast.Attribute) and _terminal_name(node.func.value) == "hub":
                return True  # torch.hub.list / help / load
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname and alias.name in _TRIGGER_NAMES:
                    triggers.add(alias.asname)
        elif isinstance(node, ast.Import):
            if any(alias.name == "shelve" for alias in node.names):
                triggers.add("open")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and node.value.startswith("hf://"):
                return True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "load" for t in targets):
                return True
            source = _terminal_name(node.value) if node.value is not None else None
            if source:
                for target in targets:
                    if isinstance(target, ast.Name):
                        aliases.setdefault(source, set()).add(target.id)
    changed = True
    while changed:  # follow alias chains: a = hf_hub_download; b = a
        changed = False
        for source, names in aliases.items():
            if source in triggers and not names <= triggers:
                triggers |= names
                changed = True
    return bool(called & triggers)


# -- what each API looks like ---------------------------------------------------------------------


@dataclass(frozen=True)
class _HubApi:
    repo_arg: tuple[int | None, str]  # positional index (None: keyword only), keyword
    repo_type: str = "model"
    revision_kw: str | None = "revision"
    can_pin: bool = True


_FROM_PRETRAINED: Final = _HubApi((0, "pretrained_model_name_or_path"))
_HUB_FUNCTIONS: Final = {
    "huggingface_hub.hf_hub_download": _HubApi((0, "repo_id")),
    "huggingface_hub.snapshot_download": _HubApi((0, "repo_id")),
    "huggingface_hub.file_download.hf_hub_download": _HubApi((0, "repo_id")),
    "huggingface_hub._snapshot_download.snapshot_download": _HubApi((0, "repo_id")),
    "huggingface_hub.HfApi().hf_hub_download": _HubApi((0, "repo_id")),
    "huggingface_hub.HfApi().snapshot_download": _HubApi((0, "repo_id")),
    "transformers.pipeline": _HubApi((1, "model")),
    "sentence_transformers.SentenceTransformer": _HubApi((0, "model_name_or_path")),
    "sentence_transformers.CrossEncoder": _HubApi((0, "model_name")),
    "sentence_transformers.cross_encoder.CrossEncoder": _HubApi((0, "model_name")),
    "datasets.load_dataset": _HubApi((0, "path"), repo_type="dataset"),
    "vllm.LLM": _HubApi((0, "model")),
    "llama_cpp.Llama.from_pretrained": _HubApi((0, "repo_id"), revision_kw=None, can_pin=False),
}
_PEFT_MODEL_ID: Final = _HubApi((1, "model_id"))
_UNSAFE_CALLS: Final = {
    "pickle.load": ("pickle.load runs code from the file", "store data as JSON/safetensors and load that"),
    "pickle.loads": ("pickle.loads runs code from the bytes", "store data as JSON/safetensors and load that"),
    "pickle.Unpickler": ("pickle.Unpickler runs code from the file", "store data as JSON/safetensors"),
    "_pickle.load": ("pickle.load runs code from the file", "store data as JSON/safetensors"),
    "_pickle.loads": ("pickle.loads runs code from the bytes", "store data as JSON/safetensors"),
    "cPickle.load": ("pickle.load runs code from the file", "store data as JSON/safetensors"),
    "joblib.load": (
        "joblib.load unpickles the file",
        "save arrays with numpy/safetensors and models with skops.io or ONNX",
    ),
    "pandas.read_pickle": ("pandas.read_pickle unpickles the file", "use parquet, feather or CSV"),
    "dill.load": ("dill.load runs code from the file", "store data as JSON/safetensors"),
    "dill.loads": ("dill.loads runs code from the bytes", "store data as JSON/safetensors"),
    "cloudpickle.load": ("cloudpickle.load runs code from the file", "store data as JSON/safetensors"),
    "cloudpickle.loads": ("cloudpickle.loads runs code from the bytes", "store data as JSON/safetensors"),
    "shelve.open": ("shelve.open unpickles every value it reads", "use sqlite3 or JSON"),
    "shelve.DbfilenameShelf": ("shelve unpickles every value it reads", "use sqlite3 or JSON"),
}
_TORCH_LOADS: Final = frozenset({"torch.load", "torch.serialization.load"})
_NUMPY_LOADS: Final = frozenset({"numpy.load"})
_KERAS_LOADS: Final = frozenset(
    {
        "keras.models.load_model",
        "keras.saving.load_model",
        "keras.load_model",
        "tensorflow.keras.models.load_model",
        "tf_keras.models.load_model",
    }
)
_PATCHED_LOADERS: Final = frozenset({"torch.load", "torch.serialization.load"})


# -- the visitor ----------------------------------------------------------------------------------


class _Scope:
    def __init__(self, parent: _Scope | None) -> None:
        self.parent = parent
        self.values: dict[str, list[tuple[int, ast.expr | None]]] = {}
        self._ambiguous: dict[str, bool] = {}

    def assign(self, name: str, line: int, value: ast.expr | None) -> None:
        self.values.setdefault(name, []).append((line, value))

    def ambiguous(self, name: str) -> bool:
        """Assigned more than one distinct value (constants compare by value)."""
        cached = self._ambiguous.get(name)
        if cached is None:
            keys = {
                repr(value.value) if isinstance(value, ast.Constant) else id(value)
                for _, value in self.values.get(name, [])
            }
            cached = self._ambiguous[name] = len(keys) > 1
        return cached


class _Visitor(ast.NodeVisitor):
    def __init__(self, base_dir: Path | None) -> None:
        self.facts = CodeFacts()
        self.base_dir = base_dir
        self.imports: dict[str, str] = {}
        self.module_scope = _Scope(None)
        self.scope = self.module_scope
        self.hub_classes: set[str] = set()

    # imports and assignments ---------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.imports[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.imports[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        for alias in node.names:
            self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def visit_Module(self, node: ast.Module) -> None:
        self._collect_assignments(node.body, self.module_scope)
        self.generic_visit(node)

    def _collect_assignments(self, body: list[ast.stmt], scope: _Scope) -> None:
        """Name bindings of this scope only: nested functions, classes and lambdas have their own."""
        pending: list[ast.AST] = list(body)
        while pending:
            node = pending.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                if not isinstance(node, ast.Lambda):
                    scope.assign(node.name, node.lineno, None)
                continue
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, line, node.value, scope)
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
                self._bind(node.target, line, node.value, scope)
            elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor)):
                self._bind(node.target, line, None, scope)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self._bind(node.optional_vars, line, None, scope)
            pending.extend(ast.iter_child_nodes(node))

    def _bind(self, target: ast.expr, line: int, value: ast.expr | None, scope: _Scope) -> None:
        if isinstance(target, ast.Name):
            scope.assign(target.id, line, value)
        elif isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
            elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target.value]
            for element in elements:
                self._bind(element, line, None, scope)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        scope = _Scope(self.scope)
        for argument in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            scope.assign(argument.arg, node.lineno, None)
        for extra in (node.args.vararg, node.args.kwarg):
            if extra:
                scope.assign(extra.arg, node.lineno, None)
        self._collect_assignments(node.body, scope)
        outer, self.scope = self.scope, scope
        for decorator in node.decorator_list:
            self.visit(decorator)
        for statement in node.body:
            self.visit(statement)
        self.scope = outer

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            qualified = self.qualify(base)
            if qualified and (qualified.split(".")[0] in HUB_PACKAGES or qualified in self.hub_classes):
                self.hub_classes.add(node.name)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            qualified = self.qualify(target)
            if qualified in _PATCHED_LOADERS:
                self._unsafe(
                    node,
                    qualified,
                    f"{qualified} is replaced here, which changes how every later load deserialises",
                    "call torch.load(path, weights_only=True) where it is needed instead of patching it",
                )
        self.generic_visit(node)

    # value resolution ----------------------------------------------------------------------
    def lookup(self, name: str, line: int) -> ast.expr | _Unresolved | None:
        scope: _Scope | None = self.scope
        while scope is not None:
            entries = scope.values.get(name)
            if entries:
                if scope is self.scope:
                    # in the running scope, the nearest binding before the use counts
                    before = [entry for entry in entries if entry[0] <= line] or entries
                    value = max(before, key=lambda entry: entry[0])[1]
                elif scope.ambiguous(name):
                    return UNRESOLVED  # an outer name bound to several values: not knowable here
                else:
                    value = entries[-1][1]
                return value if value is not None else UNRESOLVED
            scope = scope.parent
        return UNRESOLVED

    def resolve(self, node: ast.expr | None, line: int, depth: int = 0) -> Value:
        if node is None or depth > 20:
            return UNRESOLVED
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, bool, int)) or node.value is None:
                return node.value
            return UNRESOLVED
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    parts.append(value.value)
                elif isinstance(value, ast.FormattedValue) and value.format_spec is None and value.conversion == -1:
                    resolved = self.resolve(value.value, line, depth + 1)
                    if not isinstance(resolved, str):
                        return UNRESOLVED
                    parts.append(resolved)
                else:
                    return UNRESOLVED
            return "".join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.resolve(node.left, line, depth + 1)
            right = self.resolve(node.right, line, depth + 1)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            return UNRESOLVED
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return UNRESOLVED
            found = self.lookup(node.id, line)
            if isinstance(found, _Unresolved) or found is None:
                return UNRESOLVED
            return self.resolve(found, getattr(found, "lineno", line), depth + 1)
        return UNRESOLVED

    def is_local_path(self, node: ast.expr | None, value: Value) -> bool:
        if isinstance(node, ast.Call):
            callee = self.qualify(node.func) or ""
            if callee.split(".")[-1] in {"Path", "PurePath", "PosixPath", "join", "abspath", "expanduser"}:
                return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return True
        if not isinstance(value, str):
            return False
        if (
            value.startswith(("./", "../", "/", "~", ".\\"))
            or re.match(r"[A-Za-z]:[\\/]", value)
            or value in (".", "..")
        ):
            return True
        if value.count("/") > 1:
            return True
        return self.base_dir is not None and bool(value) and (self.base_dir / value).is_dir()

    def qualify(self, node: ast.expr, depth: int = 0) -> str | None:
        """The dotted name a callee resolves to through imports, aliases and instances."""
        if depth > 12:
            return None  # self-referencing aliases (``x = x.to(device)``) end here
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return self.imports[node.id]
            if node.id in self.hub_classes:
                return f"<local hub class>.{node.id}"
            found = self.lookup(node.id, getattr(node, "lineno", 0))
            if isinstance(found, (ast.Name, ast.Attribute)):
                return self.qualify(found, depth + 1)
            if isinstance(found, ast.Call):
                callee = self.qualify(found.func, depth + 1)
                return f"{callee}()" if callee else None
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value, depth + 1)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            callee = self.qualify(node.func, depth + 1)
            return f"{callee}()" if callee else None
        return None

    # calls ------------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        qualified = self.qualify(node.func)
        name = qualified or ""
        canonical = _canonical(name)
        self._check_unsafe(node, canonical)
        self._check_hub(node, canonical)
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            self._check_hf_path(argument)
        self.generic_visit(node)

    def _check_hf_path(self, node: ast.expr) -> None:
        if not isinstance(node, (ast.Constant, ast.JoinedStr)):
            return
        value = self.resolve(node, node.lineno)
        if isinstance(value, _Unresolved) and isinstance(node, ast.JoinedStr):
            head = node.values[0] if node.values else None
            if isinstance(head, ast.Constant) and isinstance(head.value, str) and head.value.startswith("hf://"):
                self._reference(node, "huggingface_hub.HfFileSystem path", "model", UNRESOLVED, UNRESOLVED)
            return
        if not isinstance(value, str) or not value.startswith("hf://"):
            return
        path = value[len("hf://") :]
        repo_type = "model"
        for prefix, kind in (("datasets/", "dataset"), ("spaces/", "space")):
            if path.startswith(prefix):
                path, repo_type = path[len(prefix) :], kind
        repo_part = "/".join(path.split("/")[:2])
        repo, _, revision = repo_part.partition("@")
        if not _REPO_ID.match(repo):
            return  # a prefix such as "hf://datasets/" used for string tests, not a reference
        self._reference(
            node, "huggingface_hub.HfFileSystem path", repo_type, repo, revision.replace("%2F", "/") or None
        )

    def _keyword(self, node: ast.Call, name: str) -> ast.keyword | None:
        for keyword in node.keywords:
            if keyword.arg == name:
                return keyword
        return None

    def _argument(self, node: ast.Call, position: int | None, keyword: str) -> ast.expr | None:
        found = self._keyword(node, keyword)
        if found is not None:
            return found.value
        if (
            position is not None
            and position < len(node.args)
            and not any(isinstance(arg, ast.Starred) for arg in node.args[: position + 1])
        ):
            return node.args[position]
        return None

    def _kw_value(self, node: ast.Call, name: str) -> Value:
        keyword = self._keyword(node, name)
        if keyword is None:
            return None
        return self.resolve(keyword.value, node.lineno)

    def _check_hub(self, node: ast.Call, name: str) -> None:
        api = _HUB_FUNCTIONS.get(name)
        package = name.split(".")[0]
        if api is None and name.endswith(".from_pretrained"):
            if package == "peft" or name.startswith("peft."):
                api = _PEFT_MODEL_ID
            elif package in HUB_PACKAGES or name.startswith("<local hub class>") or not name:
                api = _FROM_PRETRAINED
        if api is None and not name and isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained":
            api = _FROM_PRETRAINED  # receiver unknown (a parameter, a registry): fail closed
        if api is None:
            self._check_unpinnable(node, name)
            return
        repo_node = self._argument(node, *api.repo_arg)
        if repo_node is None:
            return
        repo = self.resolve(repo_node, node.lineno)
        if self.is_local_path(repo_node, repo):
            return
        repo_type = api.repo_type
        type_value = self._kw_value(node, "repo_type")
        if isinstance(type_value, str):
            repo_type = type_value
        if name == "datasets.load_dataset" and isinstance(repo, str) and repo in PACKAGED_BUILDERS:
            return
        revision: Value = None
        if api.revision_kw:
            revision = self._kw_value(node, api.revision_kw)
            if revision is None and self._keyword(node, api.revision_kw) is None and _has_double_star(node):
                revision = UNRESOLVED  # it may come in through **kwargs
        display = name if not name.startswith("<local hub class>") else name.split(".", 1)[1]
        self._reference(
            node,
            display or f"{ast.unparse(node.func)}",
            repo_type,
            repo if isinstance(repo, str) else UNRESOLVED,
            revision if isinstance(revision, str) or revision is None else UNRESOLVED,
            can_pin=api.can_pin,
            trust_remote_code=self._truthy(node, "trust_remote_code"),
            code_revision=self._optional_str(node, "code_revision"),
            custom_pipeline=self._optional_str(node, "custom_pipeline"),
            custom_revision=self._optional_str(node, "custom_revision"),
            use_safetensors_false=self._kw_value(node, "use_safetensors") is False,
        )

    def _check_unpinnable(self, node: ast.Call, name: str) -> None:
        if name in (
            "timm.create_model",
            "open_clip.create_model",
            "open_clip.create_model_and_transforms",
            "open_clip.create_model_from_pretrained",
        ):
            model_node = self._argument(node, 0, "model_name")
            value = self.resolve(model_node, node.lineno)
            hub = isinstance(value, str) and value.startswith("hf-hub:")
            pretrained = self._kw_value(node, "pretrained")
            if name.startswith("timm") and not hub and pretrained in (None, False):
                return
            if name.startswith("open_clip") and not hub and pretrained is None:
                return
            repo = value[len("hf-hub:") :] if isinstance(value, str) and hub else value
            self._reference(node, name, "model", repo if isinstance(repo, str) else UNRESOLVED, None, can_pin=False)
        elif name in ("torch.hub.load", "torch.hub.load_state_dict_from_url", "torch.hub.list", "torch.hub.help"):
            if self._kw_value(node, "source") == "local":
                return
            repo_node = self._argument(node, 0, "repo_or_dir")
            value = self.resolve(repo_node, node.lineno)
            if name == "torch.hub.load_state_dict_from_url":
                return
            if isinstance(value, str):
                repo, _, ref = value.partition(":")
                self._reference(node, name, "github", repo, ref or None)
            else:
                self._reference(node, name, "github", UNRESOLVED, UNRESOLVED)

    def _truthy(self, node: ast.Call, keyword: str) -> bool | _Unresolved:
        found = self._keyword(node, keyword)
        if found is None:
            return False
        value = self.resolve(found.value, node.lineno)
        if isinstance(value, _Unresolved):
            return UNRESOLVED
        return bool(value)

    def _optional_str(self, node: ast.Call, keyword: str) -> str | _Unresolved | None:
        found = self._keyword(node, keyword)
        if found is None:
            return None
        value = self.resolve(found.value, node.lineno)
        return value if isinstance(value, str) or value is None else UNRESOLVED

    def _reference(
        self,
        node: ast.expr,
        api: str,
        repo_type: str,
        repo: str | _Unresolved,
        revision: str | _Unresolved | None,
        **extra: object,
    ) -> None:
        self.facts.references.append(
            HubReference(
                api=api,
                repo_type=repo_type,
                repo_id=repo,
                revision=revision,
                line=node.lineno,
                col=node.col_offset,
                end_line=getattr(node, "end_lineno", None) or node.lineno,
                **extra,  # type: ignore[arg-type]
            )
        )

    def _unsafe(self, node: ast.stmt | ast.expr, api: str, problem: str, fix: str) -> None:
        self.facts.unsafe_loads.append(
            UnsafeLoad(
                api, problem, fix, node.lineno, node.col_offset, getattr(node, "end_lineno", None) or node.lineno
            )
        )

    def _check_unsafe(self, node: ast.Call, name: str) -> None:
        if name in _UNSAFE_CALLS:
            problem, fix = _UNSAFE_CALLS[name]
            self._unsafe(node, name, problem, fix)
        elif name in _TORCH_LOADS:
            weights_only = self._kw_value(node, "weights_only")
            if weights_only is not True:
                state = (
                    "weights_only=False"
                    if weights_only is False
                    else (
                        "without weights_only=True"
                        if weights_only is None
                        else "weights_only that is not a literal True"
                    )
                )
                self._unsafe(
                    node,
                    name,
                    f"{name} {state} unpickles arbitrary objects",
                    "pass weights_only=True (or load safetensors with safetensors.torch.load_file)",
                )
        elif name in _NUMPY_LOADS:
            allow = self._kw_value(node, "allow_pickle")
            if allow is not None and allow is not False:
                self._unsafe(
                    node,
                    name,
                    "numpy.load(allow_pickle=True) unpickles object arrays",
                    "store numeric arrays only and load them with allow_pickle=False (the default)",
                )
        elif name in _KERAS_LOADS:
            safe_mode = self._kw_value(node, "safe_mode")
            if safe_mode is not None and safe_mode is not True:
                self._unsafe(
                    node,
                    name,
                    f"{name}(safe_mode=False) deserialises Lambda layers, which run code",
                    "keep safe_mode=True and replace Lambda layers with registered custom layers",
                )


def _has_double_star(node: ast.Call) -> bool:
    return any(keyword.arg is None for keyword in node.keywords)


def _canonical(name: str) -> str:
    """Map re-exports to the names the tables use (``np`` is already resolved by imports)."""
    for prefix, target in (
        ("huggingface_hub.hf_api.HfApi", "huggingface_hub.HfApi"),
        ("sentence_transformers.SentenceTransformer.SentenceTransformer", "sentence_transformers.SentenceTransformer"),
        ("transformers.pipelines.pipeline", "transformers.pipeline"),
        ("tensorflow.keras", "tensorflow.keras"),
        ("tf.keras", "tensorflow.keras"),
        ("pd.", "pandas."),
    ):
        if name.startswith(prefix):
            return target + name[len(prefix) :]
    return name


def iter_places(facts: CodeFacts) -> Iterator[int]:
    for reference in facts.references:
        yield reference.line
    for load in facts.unsafe_loads:
        yield load.line
