"""Hub references and pickle-loading calls found by reading Python code with :mod:`ast`.

Calls are matched by what their callee resolves to through the module's imports (``import x as
y``, ``from x import y``), simple aliases (``loader = AutoModel``) and instances (``api =
HfApi()``). Argument values are resolved through literals, f-strings and ``+`` of constants, and
constant assignments at module level or earlier in the same function; anything else is
"unresolved", which the rules treat as not verifiable.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .flow import FlowFacts, analyse

_REPO_ID: Final = re.compile(r"[\w.-]+(/[\w.-]+)?\Z")
_HUB_URL_HINT: Final = "huggingface.co/"
_MARKUP: Final = re.compile(r"[\n<>]|\]\(")
_SPECIAL_REF: Final = re.compile(r"refs/convert/parquet|refs/pr/\d+")
#: https://huggingface.co/[datasets/|spaces/]<repo>/(resolve|blob|raw)/<revision>/<file>
_HUB_URL: Final = re.compile(
    r"https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?:(datasets|spaces)/)?"
    r"((?:[\w.-]+/)?[\w.-]+)/(?:resolve|blob|raw)/([^/\s]+)/\S+"
)


class _Unresolved:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED: Final = _Unresolved()
Value = str | bool | int | None | _Unresolved


class _Local:
    """A value known to be a local path (``Path(...)``, a temporary directory, ``args.output_dir``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LOCAL"


class _Pinned:
    """A revision returned by a function the project declares as pinning (``pinning_functions``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PINNED"


class _Object:
    """A value typed as an object (``x: ORTModel``): not a repo id, though its attributes may hold one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OBJECT"


LOCAL: Final = _Local()
PINNED: Final = _Pinned()
OBJECT: Final = _Object()
Possible = Value | _Local | _Pinned | _Object
_MAX_VALUES: Final = 32
_COMMIT: Final = re.compile(r"[0-9a-f]{40}\Z")


@dataclass(frozen=True)
class CodeOptions:
    """What a project declares about its own code ([tool.aisupply] settings)."""

    #: parameter and attribute names that always hold local paths
    local_parameters: frozenset[str] = frozenset()
    #: functions (dotted or bare names) whose result is a revision pinned to a commit
    pinning_functions: frozenset[str] = frozenset()
    #: read ``args.x`` as its argparse default when no ``choices`` bound it
    argparse_defaults: bool = False
    #: the project root: a relative name that is a folder there (or next to the file) is local
    project_root: Path | None = None


#: (function, parameter) pairs that frameworks call with a local folder.
_LOCAL_PARAMETERS: Final = frozenset(
    {
        ("load_model_hook", "input_dir"),  # accelerate.Accelerator.register_load_state_pre_hook
        ("save_model_hook", "output_dir"),  # accelerate.Accelerator.register_save_state_pre_hook
        ("model_fn", "model_dir"),  # SageMaker inference handlers
    }
)
_TEMPORARY_FOLDER_PARAMETERS: Final = frozenset({"tmp_path", "tmpdir"})
#: Attribute names that conventionally hold local folders (``args.output_dir``, ``training_args.logging_dir``).
_LOCAL_ATTRIBUTES: Final = frozenset(
    {"output_dir", "logging_dir", "save_dir", "checkpoint_dir", "ckpt_dir", "local_dir", "model_dir", "save_path"}
)
_LOCAL_PATH_CALLS: Final = frozenset(
    {
        "os.path.join",
        "os.path.abspath",
        "os.path.expanduser",
        "os.path.expandvars",
        "os.path.realpath",
        "os.path.dirname",
        "os.path.normpath",
        "os.getcwd",
        "posixpath.join",
        "ntpath.join",
    }
)
#: Methods that write a model folder given as their first argument, and keywords that name one.
_WRITER_METHODS: Final = frozenset({"save_pretrained", "save", "save_model", "save_state", "save_to_hub_local"})
_WRITER_KEYWORDS: Final = frozenset({"output_dir", "output_path", "save_directory", "local_dir"})
#: Calls that run a shell command (IPython's ``!cmd`` is ``get_ipython().system('cmd')``).
_PATH_PLACEHOLDER: Final = re.compile(r"(?i)[^/]*\bpath\b[^/]*$")
_SHELL_CALLS: Final = frozenset({"system", "getoutput", "run", "call", "check_call", "check_output", "Popen"})
_SHELL_OUTPUT_DIR: Final = re.compile(r"--(?:output|save)[_-]dir(?:=|\s+)([\"']?)(?P<folder>[^\s\"']+)\1")


def _template(node: ast.JoinedStr) -> re.Pattern[str] | None:
    """``f"{model_name}-finetuned-x"`` as a pattern: constant parts literal, the others any name."""
    parts = []
    for part in node.values:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            parts.append(re.escape(part.value))
        else:
            parts.append(r"[^/]+")
    if not any(isinstance(part, ast.Constant) and str(part.value).strip() for part in node.values):
        return None  # f"{x}" alone would match anything
    return re.compile("".join(parts))


#: Annotations that allow a repo id string (or say nothing).
_TEXT_TYPES: Final = frozenset({"str", "Any", "object", "bytes", "AnyStr", "StrPath", "PathLike", "Text"})


def _typed_value(annotation: ast.expr) -> _Local | _Object | None:
    """``p: Path`` holds a local path, ``x: ORTModel`` an object; ``str``, ``Any``, ``str | Path``,
    a string annotation and the like may hold a repo id (None)."""
    if isinstance(annotation, ast.Constant):
        return None
    names = {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(annotation)
        if isinstance(node, (ast.Name, ast.Attribute))
    }
    if not names or names & _TEXT_TYPES:
        return None
    return LOCAL if names & {"Path", "PurePath", "PosixPath", "WindowsPath"} else OBJECT


def _is_commit(value: str) -> bool:
    return bool(_COMMIT.match(value))


def _distinct(values: Iterable[Possible]) -> list[Possible]:
    seen: list[Possible] = []
    for value in values:
        if not any(type(value) is type(other) and value == other for other in seen):
            seen.append(value)
    return seen[:_MAX_VALUES] if len(seen) <= _MAX_VALUES else [UNRESOLVED]


def _concatenate(parts: list[Possible]) -> Possible:
    if any(part is LOCAL for part in parts):
        return LOCAL  # a path built from a local folder
    if all(isinstance(part, str) for part in parts):
        return "".join(part for part in parts if isinstance(part, str))
    return UNRESOLVED


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
    revision: str | _Unresolved | _Pinned | None
    line: int
    col: int
    end_line: int
    can_pin: bool = True
    trust_remote_code: bool | _Unresolved = False
    code_revision: str | _Unresolved | None = None
    custom_pipeline: str | _Unresolved | None = None
    custom_revision: str | _Unresolved | None = None
    use_safetensors_false: bool = False
    #: the keywords that decide which files of the commit the call loads (see :func:`load_options`)
    load_options: tuple[tuple[str, object], ...] = ()


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
    #: literal names of the folders this file writes (``save_pretrained("out")``, ``output_dir="out"``)
    written_folders: set[str] = field(default_factory=set)


def extract(text: str, filename: str, base_dir: Path | None = None, options: CodeOptions | None = None) -> CodeFacts:
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
    try:
        visitor = _Visitor(base_dir, analyse(tree), options or CodeOptions())
        visitor.visit(tree)
        visitor.facts.written_folders = {
            value
            for _, folder in visitor.written_folders
            for value in visitor.resolve_all(folder)
            if isinstance(value, str) and value
        }
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
        "load_dataset_builder",
        "load_metric",
        "load_lora_weights",
        "from_single_file",
        "load_adapter",
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
            if name in _WRITER_METHODS or any(keyword.arg in _WRITER_KEYWORDS for keyword in node.keywords):
                return True  # a folder written here may be loaded by name elsewhere in the project
            if name in _SHELL_CALLS and _SHELL_OUTPUT_DIR.search(ast.unparse(node)):
                return True  # a training script run with --output_dir=<folder>
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
            if isinstance(node.value, str) and (node.value.startswith("hf://") or _HUB_URL_HINT in node.value):
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
    "datasets.load_dataset_builder": _HubApi((0, "path"), repo_type="dataset"),
    "datasets.load_metric": _HubApi((0, "path"), repo_type="dataset"),
    "evaluate.load": _HubApi((0, "path"), repo_type="space"),
    "vllm.LLM": _HubApi((0, "model")),
    "llama_cpp.Llama.from_pretrained": _HubApi((0, "repo_id"), revision_kw=None, can_pin=False),
}
_PEFT_MODEL_ID: Final = _HubApi((1, "model_id"))
#: Methods matched by name, and the keyword of their first argument.
_METHOD_LOADERS: Final = {
    "load_lora_weights": "pretrained_model_name_or_path_or_dict",
    "from_single_file": "pretrained_model_link_or_path",
    "load_adapter": "peft_model_id",
}
_DATASET_LOADERS: Final = frozenset({"datasets.load_dataset", "datasets.load_dataset_builder"})
_CHECKPOINT_SUFFIX: Final = re.compile(r"\.(pt|pth|bin|ckpt|safetensors|npz)$")
_SCRIPT_PATH_LOADERS: Final = _DATASET_LOADERS | {"datasets.load_metric", "evaluate.load"}
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
_TORCH_LOADS: Final = frozenset({"torch.load", "torch.serialization.load", "torch.hub.load_state_dict_from_url"})
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


class _Visitor(ast.NodeVisitor):
    def __init__(self, base_dir: Path | None, flow: FlowFacts, options: CodeOptions) -> None:
        self.facts = CodeFacts()
        self.base_dir = base_dir
        self.flow = flow
        self.options = options
        self.imports: dict[str, str] = {}
        self.hub_classes: set[str] = set()
        self.written_folders: list[tuple[int, ast.expr]] = []
        self.parsers: dict[str, list[ast.Call]] = {}  # argparse dest -> its add_argument calls
        self._values: dict[int, list[Possible]] = {}  # resolve_all by node: the flow is fixed
        self._names: dict[int, str | None] = {}  # qualify by node

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
        for call in ast.walk(node):
            if isinstance(call, ast.Call):
                self._collect_written_folder(call)
                self._collect_argument(call)
        self._names.clear()  # classes seen by the visit below may change what a name qualifies to
        self._values.clear()
        self.generic_visit(node)

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
    # value resolution ----------------------------------------------------------------------
    def resolve_all(self, node: ast.AST | None, depth: int = 0) -> list[Possible]:
        """Every value that can reach ``node`` (through the flow), LOCAL for a local path."""
        if node is None or depth > 20:
            return [UNRESOLVED]
        key = id(node)
        cached = self._values.get(key)
        if cached is not None:
            return cached
        self._values[key] = [UNRESOLVED]  # a value defined through itself (x = x + "a") is unknown
        result = self._resolve_all(node, depth)
        self._values[key] = result
        return result

    def _resolve_all(self, node: ast.AST, depth: int) -> list[Possible]:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, bool, int)) or node.value is None:
                return [node.value]
            return [UNRESOLVED]
        if isinstance(node, ast.JoinedStr):
            combos: list[list[Possible]] = [[]]
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    options: list[Possible] = [part.value]
                elif isinstance(part, ast.FormattedValue) and part.format_spec is None and part.conversion == -1:
                    options = self.resolve_all(part.value, depth + 1)
                else:
                    options = [UNRESOLVED]
                combos = [[*combo, option] for combo in combos for option in _distinct(options)][:_MAX_VALUES]
            return _distinct(_concatenate(combo) for combo in combos)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Div):
                return [LOCAL]  # Path / "name"
            if isinstance(node.op, ast.Add):
                lefts = self.resolve_all(node.left, depth + 1)
                rights = self.resolve_all(node.right, depth + 1)
                return _distinct(_concatenate([left, right]) for left in lefts for right in rights)
            return [UNRESOLVED]
        if isinstance(node, ast.IfExp):
            return _distinct([*self.resolve_all(node.body, depth + 1), *self.resolve_all(node.orelse, depth + 1)])
        if isinstance(node, ast.BoolOp):
            return _distinct(value for operand in node.values for value in self.resolve_all(operand, depth + 1))
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return [UNRESOLVED]
            definitions = self.flow.reaching_definitions(node)
            if not definitions:
                return [UNRESOLVED]
            values: list[Possible] = []
            for definition in definitions:
                annotation = (
                    definition.annotation
                    if isinstance(definition, ast.arg)
                    else self.flow.annotations.get(id(definition))
                )
                typed = _typed_value(annotation) if annotation is not None else None
                if typed is not None:
                    values.append(typed)  # typed as a path or as an object (a model): not a repo id
                elif definition is None:
                    values.append(UNRESOLVED)
                elif isinstance(definition, ast.arg):
                    values.append(self._parameter_value(definition))
                else:
                    values.extend(self.resolve_all(definition, depth + 1))
            return _distinct(values)
        if isinstance(node, ast.Call):
            return self._call_value(node, depth)
        if isinstance(node, ast.Attribute):
            return self._attribute_value(node, depth)
        return [UNRESOLVED]

    def _parameter_value(self, parameter: ast.arg) -> Possible:
        owner = self.flow.parameter_owner.get(id(parameter))
        function = getattr(owner, "name", "")
        if (function, parameter.arg) in _LOCAL_PARAMETERS or parameter.arg in self.options.local_parameters:
            return LOCAL
        if parameter.arg in _TEMPORARY_FOLDER_PARAMETERS:
            return LOCAL  # pytest's tmp_path/tmpdir fixtures (unannotated in most test suites)
        return UNRESOLVED

    def _call_value(self, node: ast.Call, depth: int) -> list[Possible]:
        callee = self.qualify(node.func) or ""
        bare = ast.unparse(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else ""
        if callee in self.options.pinning_functions or bare in self.options.pinning_functions:
            return [PINNED]
        if callee in _LOCAL_PATH_CALLS or callee.startswith(("pathlib.", "tempfile.")):
            return [LOCAL]
        if (callee == "os.fspath" or bare == "str") and node.args:
            return self.resolve_all(node.args[0], depth + 1)
        if isinstance(node.func, ast.Attribute):
            receiver = self.resolve_all(node.func.value, depth + 1)
            if receiver and all(value is LOCAL for value in receiver):
                return [LOCAL]  # a method of a path: .resolve(), .joinpath(...), .absolute()
        return [UNRESOLVED]

    def _attribute_value(self, node: ast.Attribute, depth: int) -> list[Possible]:
        if node.attr in _LOCAL_ATTRIBUTES or node.attr in self.options.local_parameters:
            return [LOCAL]
        receiver = self.resolve_all(node.value, depth + 1)
        if receiver and all(value is LOCAL for value in receiver):
            return [LOCAL]  # path.parent, tmp.name
        declared = self.parsers.get(node.attr)
        if declared and isinstance(node.value, ast.Name) and self._is_parsed_arguments(node.value):
            return self._argparse_values(declared, depth)
        return [UNRESOLVED]

    def _is_parsed_arguments(self, name: ast.Name) -> bool:
        """``args`` came from ``parser.parse_args()`` (or a helper named ``parse_args``) on every path."""
        definitions = self.flow.reaching_definitions(name) or [None]
        return all(
            isinstance(definition, ast.Call) and _terminal_name(definition.func) == "parse_args"
            for definition in definitions
        )

    def _argparse_values(self, calls: list[ast.Call], depth: int) -> list[Possible]:
        """An ``args.x`` read: its ``choices`` (and default) when given, else unverifiable, or its
        default alone when the project declares ``argparse_defaults``."""
        values: list[Possible] = []
        for call in calls:
            choices = self._keyword(call, "choices")
            default = self._keyword(call, "default")
            default_values = self.resolve_all(default.value, depth + 1) if default is not None else [None]
            if choices is not None and isinstance(choices.value, (ast.List, ast.Tuple, ast.Set)):
                for element in choices.value.elts:
                    values.extend(self.resolve_all(element, depth + 1))
                values.extend(default_values)
            elif self.options.argparse_defaults:
                values.extend(default_values)
            else:
                values.append(UNRESOLVED)
        return _distinct(values)

    def resolve(self, node: ast.expr | None, line: int = 0) -> Value:
        """One value when every path gives the same one; else unresolved."""
        values = self.resolve_all(node)
        if len(values) == 1 and not isinstance(values[0], (_Local, _Pinned, _Object)):
            return values[0]
        return UNRESOLVED

    def revision_value(self, node: ast.expr) -> str | _Unresolved | _Pinned | None:
        """The revision the rules judge: the one value, or the worst of several (every path must pin)."""
        values = _distinct(value for value in self.resolve_all(node) if value is not LOCAL and value is not OBJECT) or [
            UNRESOLVED
        ]
        for value in values:  # a branch or tag name first: the message can name it
            if isinstance(value, str) and not _is_commit(value):
                return value
        if None in values:
            return None
        if any(not isinstance(value, (str, _Pinned)) for value in values):
            return UNRESOLVED
        first = values[0]
        return first if isinstance(first, (str, _Pinned)) else UNRESOLVED

    def repo_values(self, node: ast.expr, line: int) -> list[str | _Unresolved]:
        """The Hub repos ``node`` can name ([] when every value is a local path)."""
        values = self.resolve_all(node)
        written = {ast.unparse(folder) for written_line, folder in self.written_folders if written_line < line}
        if ast.unparse(node) in written:
            return []
        earlier = [folder for written_line, folder in self.written_folders if written_line < line]
        written_values = {value for folder in earlier for value in self.resolve_all(folder) if isinstance(value, str)}
        # f"{name}-finetuned" written with a part that is not a constant: match the constant parts
        templates = [_template(folder) for folder in earlier if isinstance(folder, ast.JoinedStr)]
        remote: list[str | _Unresolved] = []
        for value in values:
            if (
                value is LOCAL
                or value is OBJECT
                or (
                    isinstance(value, str)
                    and (
                        self._looks_local(value)
                        or not _REPO_ID.match(value)  # "" or "INSERT PATH HERE": no Hub repo has that name
                        or _PATH_PLACEHOLDER.match(value)  # "path-to-your-trained-model": a local folder
                        or value in written_values
                        or any(template is not None and template.fullmatch(value) for template in templates)
                    )
                )
            ):
                continue
            remote.append(value if isinstance(value, str) else UNRESOLVED)
        if any(isinstance(value, _Unresolved) for value in remote):
            return [UNRESOLVED]
        return list(dict.fromkeys(remote))

    def _looks_local(self, value: str) -> bool:
        if (
            value.startswith(("./", "../", "/", "~", ".\\"))
            or re.match(r"[A-Za-z]:[\\/]", value)
            or value in (".", "..")
        ):
            return True
        if value.count("/") > 1:
            return True
        folders = (self.base_dir, self.options.project_root)
        return bool(value) and any(folder is not None and (folder / value).is_dir() for folder in folders)

    def _collect_written_folder(self, node: ast.Call) -> None:
        """Folders this file writes (``save_pretrained(d)``, ``output_dir=d`` ...): loading ``d``
        later in the file reads them back from disk."""
        name = _terminal_name(node.func) or ""
        target: ast.expr | None = None
        if name in _WRITER_METHODS and isinstance(node.func, ast.Attribute):
            callee = self.qualify(node.func) or ""
            if not (name == "save" and callee.split(".")[0] in ("torch", "numpy", "np", "joblib", "pickle")):
                target = self._argument(node, 0, "save_directory") or self._argument(node, None, "path")
        elif name in ("makedirs", "mkdir") and node.args:
            target = node.args[0]
        if target is not None:
            self.written_folders.append((node.lineno, target))
        for keyword in node.keywords:
            if keyword.arg in _WRITER_KEYWORDS:
                self.written_folders.append((node.lineno, keyword.value))
        if name in _SHELL_CALLS and node.args:
            # a notebook's "!accelerate launch train.py --output_dir=out" (or subprocess.run) writes "out"
            command = node.args[0]
            parts = command.elts if isinstance(command, (ast.List, ast.Tuple)) else [command]
            text = " ".join(
                part.value for part in parts if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            for match in _SHELL_OUTPUT_DIR.finditer(text):
                self.written_folders.append((node.lineno, ast.Constant(match["folder"])))

    def _collect_argument(self, node: ast.Call) -> None:
        """argparse ``add_argument`` calls by destination."""
        if _terminal_name(node.func) == "add_argument":
            dest_keyword = self._keyword(node, "dest")
            dest: str | None = None
            if dest_keyword is not None and isinstance(dest_keyword.value, ast.Constant):
                dest = str(dest_keyword.value.value)
            else:
                flags = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
                long = [flag for flag in flags if flag.startswith("--")]
                chosen = long[0] if long else (flags[0] if flags else None)
                dest = chosen.lstrip("-").replace("-", "_") if chosen else None
            if dest:
                self.parsers.setdefault(dest, []).append(node)

    def qualify(self, node: ast.expr, depth: int = 0) -> str | None:
        """The dotted name a callee resolves to through imports, aliases and instances."""
        if depth > 12:
            return None
        key = id(node)
        if key in self._names:
            return self._names[key]
        self._names[key] = None  # self-referencing aliases (``x = x.to(device)``) end here
        result = self._qualify(node, depth)
        self._names[key] = result
        return result

    def _qualify(self, node: ast.expr, depth: int) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return self.imports[node.id]
            if node.id in self.hub_classes:
                return f"<local hub class>.{node.id}"
            names = set()
            for found in self.flow.reaching_definitions(node) or [None]:
                if isinstance(found, (ast.Name, ast.Attribute)):
                    names.add(self.qualify(found, depth + 1))
                elif isinstance(found, ast.Call):
                    callee = self.qualify(found.func, depth + 1)
                    names.add(f"{callee}()" if callee else None)
                else:
                    names.add(None)
            return names.pop() if len(names) == 1 else None
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value, depth + 1)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            callee = self.qualify(node.func, depth + 1)
            return f"{callee}()" if callee else None
        return None

    # calls ------------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        for name in self._callees(node.func):
            canonical = _canonical(name)
            self._check_unsafe(node, canonical)
            self._check_hub(node, canonical)
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            self._check_hf_path(argument)
        self.generic_visit(node)

    def _callees(self, func: ast.expr) -> list[str]:
        """What the callee can be: ``loader = load_dataset`` on one branch and ``loader = other`` on
        another gives both names (each is checked)."""
        if isinstance(func, ast.Name) and func.id not in self.imports and func.id not in self.hub_classes:
            definitions = self.flow.reaching_definitions(func) or []
            if len(definitions) > 1:
                names = {
                    self.qualify(definition) if isinstance(definition, ast.expr) else None for definition in definitions
                }
                known = sorted(name for name in names if name)
                if known:
                    return known
        return [self.qualify(func) or ""]

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant):
            return  # a docstring or a bare string: nothing is fetched
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # a URL inside markup or prose (an <img src=...> in a Gradio description) is shown, not fetched
        if isinstance(node.value, str) and _HUB_URL_HINT in node.value and not _MARKUP.search(node.value):
            self._check_hub_url(node, [node.value])

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        head = node.values[0] if node.values else None
        if isinstance(head, ast.Constant) and isinstance(head.value, str) and _HUB_URL_HINT in head.value:
            values = [value for value in self.resolve_all(node) if isinstance(value, str)]
            if len(values) == len(self.resolve_all(node)):
                self._check_hub_url(node, values)
            else:
                # parts that are not constants: keep the literal parts, the repo is unknown
                template = "".join(
                    part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "\x00"
                    for part in node.values
                )
                self._check_hub_url(node, [template])
            return
        self.generic_visit(node)

    def _check_hub_url(self, node: ast.expr, values: list[str]) -> None:
        """A raw ``https://huggingface.co/<repo>/resolve/<revision>/<file>`` URL, fetched by any function."""
        for value in values:
            match = _HUB_URL.search(value.replace("\x00", "X\x00X"))
            if match is None:
                continue
            kind = {"datasets": "dataset", "spaces": "space"}.get(match[1] or "", "model")
            repo: str | _Unresolved = match[2] if "\x00" not in match[2] else UNRESOLVED
            raw_revision = match[3]
            revision: str | _Unresolved = raw_revision.replace("%2F", "/") if "\x00" not in raw_revision else UNRESOLVED
            self._reference(node, "huggingface.co URL", kind, repo, revision)

    def _check_hf_path(self, node: ast.expr) -> None:
        if isinstance(node, (ast.Dict, ast.List, ast.Tuple, ast.Set)):
            # hf:// paths inside dict and list arguments (data_files={"train": "hf://..."})
            children = [*node.values] if isinstance(node, ast.Dict) else list(node.elts)
            for child in children:
                self._check_hf_path(child)
            return
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
        special = _SPECIAL_REF.match(path.partition("@")[2]) if "@" in path else None
        if special:
            revision = special[0]  # HfFileSystem reads refs/convert/parquet and refs/pr/N unencoded
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
            owner = name.split(".")[-2] if name.count(".") else ""
            if package == "peft" and owner.startswith(("PeftModel", "PeftMixedModel")):
                api = _PEFT_MODEL_ID  # PeftModel.from_pretrained(model, model_id)
            elif package in HUB_PACKAGES or name.startswith("<local hub class>") or not name:
                api = _FROM_PRETRAINED  # PeftConfig, AutoPeftModel*, transformers, diffusers ...
            elif self._names_hub_repo(node):
                api = _FROM_PRETRAINED  # a project's own class, loading "org/name" from the Hub
        if api is None and not name and isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained":
            api = _FROM_PRETRAINED  # receiver unknown (a parameter, a registry): fail closed
        if api is None:
            self._check_unpinnable(node, name)
            return
        self._hub_call(node, name, api)

    def _names_hub_repo(self, node: ast.Call) -> bool:
        first = self._argument(node, 0, "pretrained_model_name_or_path")
        if first is None:
            return False
        return any(
            isinstance(value, str) and "/" in value and bool(_REPO_ID.match(value))
            for value in self.repo_values(first, node.lineno)
        )

    def _hub_call(self, node: ast.Call, name: str, api: _HubApi) -> None:
        repo_node = self._argument(node, *api.repo_arg)
        if repo_node is None:
            if _has_star(node):
                repos: list[str | _Unresolved] = [UNRESOLVED]  # from_pretrained(*args, **kwargs)
            else:
                return
        else:
            repos = self.repo_values(repo_node, node.lineno)
        repo_type = api.repo_type
        type_value = self._kw_value(node, "repo_type")
        if isinstance(type_value, str):
            repo_type = type_value
        revision: str | _Unresolved | _Pinned | None = None
        if api.revision_kw:
            revision_node = self._keyword(node, api.revision_kw)
            if revision_node is not None:
                revision = self.revision_value(revision_node.value)
            elif _has_double_star(node):
                revision = UNRESOLVED  # it may come in through **kwargs
        display = name if not name.startswith("<local hub class>") else name.split(".", 1)[1]
        for repo in repos:
            if name in _DATASET_LOADERS and isinstance(repo, str) and repo in PACKAGED_BUILDERS:
                continue
            if name in _SCRIPT_PATH_LOADERS and isinstance(repo, str) and repo.endswith(".py"):
                continue  # a local script: these loaders never look a ".py" path up on the Hub
            if name in _SENTENCE_TRANSFORMERS and isinstance(repo, str) and _short_sentence_transformer(repo):
                repo = f"sentence-transformers/{repo}"
            if name == "evaluate.load" and isinstance(repo, str) and "/" not in repo:
                # a canonical module: a Space of evaluate-metric (tried first), -comparison or -measurement
                kind = self._kw_value(node, "module_type")
                kind = kind if kind in ("comparison", "measurement") else "metric"
                repo = f"evaluate-{kind}/{repo}"
            self._reference(
                node,
                display or f"{ast.unparse(node.func)}",
                repo_type,
                repo,
                revision,
                can_pin=api.can_pin,
                trust_remote_code=self._truthy(node, "trust_remote_code"),
                code_revision=self._optional_str(node, "code_revision"),
                custom_pipeline=self._optional_str(node, "custom_pipeline"),
                custom_revision=self._optional_str(node, "custom_revision"),
                use_safetensors_false=self._kw_value(node, "use_safetensors") is False,
                load_options=load_options(self, node, name),
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
            if name.startswith("timm"):
                pretrained = self._kw_value(node, "pretrained")
                if not hub and pretrained in (None, False):
                    return
                if isinstance(value, str) and hub:
                    # timm splits "hf-hub:org/name@revision" and downloads at that revision
                    repo, _, revision = value[len("hf-hub:") :].partition("@")
                    self._reference(node, name, "model", repo, revision or None)
                    return
            else:
                # open_clip's pretrained tag may come by position (create_model_and_transforms(name, tag))
                pretrained_node = self._argument(node, 1, "pretrained")
                if not hub and (pretrained_node is None or self.resolve(pretrained_node) is None):
                    return
                if not hub and self._local_checkpoint(pretrained_node):
                    return  # open_clip loads a pretrained= file path from disk, not from a hub
            shown = value[len("hf-hub:") :] if isinstance(value, str) and hub else value
            self._reference(node, name, "model", shown if isinstance(shown, str) else UNRESOLVED, None, can_pin=False)
        elif name in ("torch.hub.load", "torch.hub.list", "torch.hub.help"):
            if self._kw_value(node, "source") == "local":
                return
            repo_node = self._argument(node, 0, "repo_or_dir")
            value = self.resolve(repo_node, node.lineno)
            if isinstance(value, str):
                repo, _, ref = value.partition(":")
                self._reference(node, name, "github", repo, ref or None)
            else:
                self._reference(node, name, "github", UNRESOLVED, UNRESOLVED)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _METHOD_LOADERS:
            self._method_loader(node, node.func.attr)

    def _local_checkpoint(self, node: ast.expr | None) -> bool:
        """Every value that can reach ``node`` is a file path (open_clip's tags have no ``/`` or suffix)."""
        values = self.resolve_all(node)
        return bool(values) and all(
            value is LOCAL
            or (
                isinstance(value, str)
                and (self._looks_local(value) or "/" in value or _CHECKPOINT_SUFFIX.search(value))
            )
            for value in values
        )

    def _method_loader(self, node: ast.Call, method: str) -> None:
        """diffusers ``load_lora_weights``/``from_single_file`` and PEFT/transformers ``load_adapter``:
        methods of objects the visitor cannot type, so they are matched by name."""
        # PeftModel.load_adapter(self, model_id, ...): called on the class, the instance comes first
        unbound = bool(node.args) and isinstance(node.args[0], ast.Name) and node.args[0].id == "self"
        source = self._argument(node, 1 if unbound else 0, _METHOD_LOADERS[method])
        if source is None or isinstance(source, (ast.Dict, ast.DictComp)):
            return  # a state dict passed directly
        repos = self.repo_values(source, node.lineno)
        revision_node = self._keyword(node, "revision")
        revision: str | _Unresolved | _Pinned | None = (
            self.revision_value(revision_node.value) if revision_node is not None else None
        )
        if revision_node is None and _has_double_star(node):
            revision = UNRESOLVED
        api = f"{method}"
        for repo in repos:
            if isinstance(repo, str) and repo.startswith(("http://", "https://")):
                continue  # a URL: read as a raw Hub URL (_check_hub_url) or not a Hub reference
            if isinstance(repo, str) and repo.count("/") > 1:
                continue  # "org/repo/file.safetensors" for from_single_file: checked as a path
            self._reference(node, api, "model", repo, revision, load_options=load_options(self, node, method))

    def _truthy(self, node: ast.Call, keyword: str) -> bool | _Unresolved:
        found = self._keyword(node, keyword)
        if found is None:
            return False
        values = self.resolve_all(found.value)
        if any(isinstance(value, (_Unresolved, _Local, _Pinned, _Object)) for value in values):
            return UNRESOLVED
        return any(bool(value) for value in values)

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
        revision: str | _Unresolved | _Pinned | None,
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
            if weights_only is None and self._keyword(node, "weights_only") is None and _has_double_star(node):
                self._unsafe(
                    node,
                    name,
                    f"{name}: weights_only cannot be verified statically (it may come in through **kwargs)",
                    "pass weights_only=True explicitly at this call",
                )
            elif weights_only is not True:
                state = (
                    "weights_only=False"
                    if weights_only is False
                    else (
                        "without weights_only=True"
                        if weights_only is None
                        else "weights_only that is not a literal True"
                    )
                )
                if name == "torch.hub.load_state_dict_from_url" and weights_only is None:
                    state += " (its weights_only defaults to False)"
                elif weights_only is None and self._keyword(node, "pickle_module") is not None:
                    state += " (with pickle_module given, weights_only defaults to False)"
                when = ""
                if weights_only is None and "(" not in state:
                    # torch.load defaults to weights_only=True only from torch 2.6, and
                    # TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD turns that default off again
                    when = " on torch < 2.6 or with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD set"
                self._unsafe(
                    node,
                    name,
                    f"{name} {state} unpickles arbitrary objects{when}",
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


def _has_star(node: ast.Call) -> bool:
    return any(isinstance(argument, ast.Starred) for argument in node.args) or _has_double_star(node)


_SENTENCE_TRANSFORMERS: Final = frozenset(
    {
        "sentence_transformers.SentenceTransformer",
        "sentence_transformers.CrossEncoder",
        "sentence_transformers.cross_encoder.CrossEncoder",
        "sentence_transformers.SparseEncoder",
    }
)
#: Plain transformers checkpoints that sentence-transformers loads under their own name.
_ORIGINAL_TRANSFORMER_PREFIXES: Final = (
    "albert-",
    "bert-",
    "camembert-",
    "ctrl",
    "distil",
    "flaubert",
    "gpt2",
    "openai-gpt",
    "roberta-",
    "t5-",
    "transfo-xl",
    "xlm-",
    "xlnet-",
)


def _short_sentence_transformer(repo: str) -> bool:
    """``SentenceTransformer("all-MiniLM-L6-v2")`` loads ``sentence-transformers/all-MiniLM-L6-v2``."""
    return "/" not in repo and not repo.startswith(_ORIGINAL_TRANSFORMER_PREFIXES)


def _has_double_star(node: ast.Call) -> bool:
    return any(keyword.arg is None for keyword in node.keywords)


def _canonical(name: str) -> str:
    """Map re-exports to the names the tables use (``np`` is already resolved by imports)."""
    for prefix, target in (
        ("huggingface_hub.hf_api.HfApi", "huggingface_hub.HfApi"),
        ("sentence_transformers.SentenceTransformer.SentenceTransformer", "sentence_transformers.SentenceTransformer"),
        ("transformers.pipelines.pipeline", "transformers.pipeline"),
        ("timm.models.create_model", "timm.create_model"),
        ("timm.models._factory.create_model", "timm.create_model"),
        ("open_clip.factory.", "open_clip."),
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


# -- call keywords that decide which files a call loads (read by pytest_aisupply.hub.loads) ---------

#: Keywords a loader chooses its files by; the Hub content check reads exactly those files.
LOAD_KEYWORDS: Final = (
    "filename",
    "allow_patterns",
    "ignore_patterns",
    "subfolder",
    "variant",
    "use_safetensors",
    "from_tf",
    "from_flax",
    "gguf_file",
    "weight_name",
    "data_files",
    "data_dir",
    "additional_files",
)
#: APIs that take ``filename`` as their second positional argument.
_FILENAME_SECOND: Final = frozenset(
    {
        "huggingface_hub.hf_hub_download",
        "huggingface_hub.file_download.hf_hub_download",
        "huggingface_hub.HfApi().hf_hub_download",
        "llama_cpp.Llama.from_pretrained",
    }
)


def load_options(visitor: _Visitor, node: ast.Call, api: str) -> tuple[tuple[str, object], ...]:
    """The :data:`LOAD_KEYWORDS` of ``node`` as (keyword, value) pairs: a literal ``str``/``bool``, a
    tuple of literal strings (a list or tuple of patterns), or UNRESOLVED when the value is only known at
    run time. ``**kwargs`` may carry any of them: it is recorded as ``("**", UNRESOLVED)``."""
    found: list[tuple[str, object]] = []
    for keyword in LOAD_KEYWORDS:
        position = 1 if keyword == "filename" and api in _FILENAME_SECOND else None
        value_node = visitor._argument(node, position, keyword)
        if value_node is None:
            continue
        value = _load_option_value(visitor, value_node)
        if value is not None:
            found.append((keyword, value))
    if _has_double_star(node):
        found.append(("**", UNRESOLVED))
    return tuple(found)


def _load_option_value(visitor: _Visitor, node: ast.expr) -> object:
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [visitor.resolve(element) for element in node.elts]
        if all(isinstance(item, str) for item in items):
            return tuple(items)
        return UNRESOLVED
    value = visitor.resolve(node)
    if value is None or isinstance(value, (str, bool)):
        return value
    return UNRESOLVED
