"""What a pinned Hub reference loads: the files a call reads at a commit, decided from the commit's file
list the way each library decides.

One table, :data:`LOADERS`: a row per library, each row citing the library code it mirrors (versions of
``hub-protocol.md``: transformers 5.24 / 4.x for TF and Flax, sentence-transformers 6.2, diffusers 0.42,
peft 0.21, timm 1.0, open_clip 3.3, llama-cpp-python 0.3, datasets 5.2, huggingface_hub 2.4). What a row
cannot decide (an unknown loader, an option the code computes at run time) is every weight-like file of the
commit: the check errs towards reading more.

Pure functions over a file list; the only input from the network is the small JSON files a library reads
itself before choosing (``*.index.json``, ``modules.json``, ``model_index.json``), through ``read_json``.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Suffixes of files a loader may deserialise (weights, checkpoints, pickles, serialized graphs).
WEIGHT_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".pkl",
    ".pickle",
    ".joblib",
    ".h5",
    ".hdf5",
    ".keras",
    ".msgpack",
    ".onnx",
    ".gguf",
    ".npy",
    ".npz",
    ".pb",
    ".tflite",
    ".mlmodel",
    ".model",
)

ReadJson = Callable[[str], Any]


@dataclass(frozen=True)
class LoadCall:
    """A loader call as the code shows it: the API name and the keyword values known statically.

    ``options`` keys used: ``filename``, ``allow_patterns``, ``ignore_patterns``, ``subfolder``,
    ``variant``, ``use_safetensors``, ``from_tf``, ``from_flax``, ``gguf_file``, ``weight_name``,
    ``data_files``, ``data_dir``, ``additional_files`` (``code.references.LOAD_KEYWORDS``). A value the code
    computes at run time is :data:`UNKNOWN`; so is ``**``, set when ``**kwargs`` may carry any of them.
    """

    api: str
    options: Mapping[str, object] = field(default_factory=dict)


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


#: An option the code sets to a value only known at run time.
UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class LoadPlan:
    """The files a call loads at one commit; ``rule`` names the table row (and its library source)."""

    files: tuple[str, ...]
    rule: str
    decided: bool = True
    problems: tuple[str, ...] = ()


def load_call(reference: Any) -> LoadCall:
    """A :class:`LoadCall` from a :class:`~pytest_aisupply.code.references.HubReference`: its
    ``load_options`` (the call's keywords that choose files; ``**`` when ``**kwargs`` may carry more).
    A value the code computes at run time becomes :data:`UNKNOWN`; an explicit ``None`` is the default."""
    options: dict[str, object] = {}
    if getattr(reference, "use_safetensors_false", False):
        options["use_safetensors"] = False
    for name, value in getattr(reference, "load_options", ()):
        if value is None:
            continue
        options[str(name)] = value if isinstance(value, (str, bool, list, tuple)) else UNKNOWN
    return LoadCall(str(reference.api), options)


def is_weight_like(path: str) -> bool:
    return path.lower().endswith(WEIGHT_SUFFIXES)


def every_weight(files: Collection[str], why: str) -> LoadPlan:
    """The fallback row: what cannot be decided loads every weight-like file of the commit."""
    return LoadPlan(
        tuple(sorted(p for p in files if is_weight_like(p))), f"undecided ({why}): every weight-like file", False
    )


def files_loaded(call: LoadCall, files: Collection[str], read_json: ReadJson | None = None) -> LoadPlan:
    """The files ``call`` loads from a commit holding ``files`` (repo-relative POSIX paths)."""
    if any(value is UNKNOWN for value in call.options.values()):
        unknown = ", ".join(sorted(k for k, v in call.options.items() if v is UNKNOWN))
        return every_weight(files, f"{unknown} only known at run time")
    for matches, decide in LOADERS:
        if matches(call.api):
            return decide(call, frozenset(files), read_json)
    return every_weight(files, f"{call.api} is not in the loader table")


# -- rows ---------------------------------------------------------------------------------------------

# transformers/utils/__init__.py: SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME,
# TF2_WEIGHTS_NAME, FLAX_WEIGHTS_NAME; _add_variant() puts the variant before the suffix.
SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
PT_WEIGHTS = "pytorch_model.bin"
PT_INDEX = "pytorch_model.bin.index.json"
TF_WEIGHTS = "tf_model.h5"
FLAX_WEIGHTS = "flax_model.msgpack"


def _variant(name: str, variant: object) -> str:
    """transformers ``_add_variant`` / diffusers ``_add_variant``: ``model.fp16.safetensors``."""
    if not isinstance(variant, str) or not variant:
        return name
    stem, dot, suffix = name.partition(".")
    return f"{stem}.{variant}.{suffix}" if dot else f"{name}.{variant}"


def _join(folder: str, name: str) -> str:
    return posixpath.join(folder, name) if folder else name


def _shards(index_path: str, files: frozenset[str], read_json: ReadJson | None) -> tuple[list[str], list[str]]:
    """transformers ``utils/hub.py: get_checkpoint_shard_files``: the shards are the index's
    ``weight_map`` values, next to the index. Without the index's content: every file of its folder
    named like a shard of the same weights."""
    folder = posixpath.dirname(index_path)
    problems: list[str] = []
    if read_json is not None:
        try:
            index = read_json(index_path)
            weight_map = index["weight_map"]
            names = sorted({str(v) for v in weight_map.values()})
        except Exception as exc:  # the index is Hub content: unreadable is a problem, never a crash
            problems.append(f"{index_path}: index could not be read ({type(exc).__name__}: {exc})")
        else:
            shards = [_join(folder, name) for name in names]
            missing = [shard for shard in shards if shard not in files]
            problems += [f"{index_path} names {shard}, which is not in the commit" for shard in missing]
            return [shard for shard in shards if shard in files], problems
    base = posixpath.basename(index_path)[: -len(".index.json")]
    stem, _, suffix = base.partition(".")
    pattern = re.compile(rf"{re.escape(stem)}-\d+-of-\d+\.{re.escape(suffix)}\Z")
    return sorted(p for p in files if posixpath.dirname(p) == folder and pattern.match(posixpath.basename(p))), problems


def _transformers_weights(
    call: LoadCall, files: frozenset[str], read_json: ReadJson | None, folder: str = ""
) -> LoadPlan:
    """transformers ``modeling_utils.py: _get_resolved_checkpoint_files`` (5.24; TF/Flax from 4.x)."""
    options = call.options
    folder = _join(folder, str(options.get("subfolder") or ""))
    variant = options.get("variant")
    if isinstance(options.get("gguf_file"), str):  # the named GGUF file, nothing else
        return LoadPlan((_join(folder, str(options["gguf_file"])),), "transformers gguf_file")
    if options.get("from_tf"):
        return LoadPlan(_present([_join(folder, TF_WEIGHTS)], files), "transformers from_tf (4.x): tf_model.h5")
    if options.get("from_flax"):
        return LoadPlan(
            _present([_join(folder, FLAX_WEIGHTS)], files), "transformers from_flax (4.x): flax_model.msgpack"
        )
    if options.get("use_safetensors") is not False:
        single = _join(folder, _variant(SAFE_WEIGHTS, variant))
        if single in files:
            return LoadPlan((single,), "transformers: model.safetensors")
        index = _join(folder, _variant(SAFE_INDEX, variant))
        if index in files:
            shards, problems = _shards(index, files, read_json)
            return LoadPlan(
                tuple(shards),
                "transformers: sharded safetensors by model.safetensors.index.json",
                True,
                tuple(problems),
            )
        if options.get("use_safetensors") is True:  # transformers raises: nothing is loaded
            return LoadPlan((), "transformers use_safetensors=True without safetensors: the call fails")
    single = _join(folder, _variant(PT_WEIGHTS, variant))
    if single in files:
        return LoadPlan((single,), "transformers: pytorch_model.bin (no safetensors, or use_safetensors=False)")
    index = _join(folder, _variant(PT_INDEX, variant))
    if index in files:
        shards, problems = _shards(index, files, read_json)
        return LoadPlan(tuple(shards), "transformers: sharded pytorch_model.bin by its index", True, tuple(problems))
    return every_weight(files, "transformers finds none of its weight names")


def _present(paths: Iterable[str], files: frozenset[str]) -> tuple[str, ...]:
    return tuple(p for p in paths if p in files)


def _named_file(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """huggingface_hub ``file_download.py: hf_hub_download``: exactly ``subfolder/filename``."""
    filename = call.options.get("filename")
    if not isinstance(filename, str):
        return every_weight(files, "hf_hub_download filename not known statically")
    path = _join(str(call.options.get("subfolder") or ""), filename)
    return LoadPlan((path,), "huggingface_hub hf_hub_download: the named file")


def _as_patterns(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else None


def _matches(path: str, pattern: str) -> bool:
    """huggingface_hub ``utils/_paths.py: filter_repo_objects``: ``fnmatchcase`` (``*`` crosses ``/``),
    backslashes read as ``/`` in both, a trailing ``/`` means ``/*``."""
    path, pattern = path.replace("\\", "/"), pattern.replace("\\", "/")
    if pattern.endswith("/"):
        pattern += "*"
    return fnmatch.fnmatchcase(path, pattern)


def filter_repo_files(files: Iterable[str], allow: object = None, ignore: object = None) -> list[str]:
    """``filter_repo_objects(files, allow_patterns=allow, ignore_patterns=ignore)``, in file order."""
    allowed = _as_patterns(allow)
    ignored = _as_patterns(ignore)
    return [
        p
        for p in files
        if (allowed is None or any(_matches(p, a) for a in allowed))
        and not (ignored is not None and any(_matches(p, i) for i in ignored))
    ]


def _snapshot(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """huggingface_hub ``_snapshot_download.py``: every file through ``filter_repo_objects``.

    A snapshot downloads; it loads nothing itself: the weight-like files it brings are what the caller can load.
    """
    chosen = filter_repo_files(files, call.options.get("allow_patterns"), call.options.get("ignore_patterns"))
    return LoadPlan(
        tuple(sorted(p for p in chosen if is_weight_like(p))),
        "huggingface_hub snapshot_download: allow_patterns/ignore_patterns",
    )


def _sentence_transformers(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """sentence_transformers ``SentenceTransformer.py: _load_sbert_model``: each ``modules.json`` entry
    loads its folder; ``models/Transformer.py`` loads a transformers model there, other modules
    (``Dense``, ``Pooling``...) ``model.safetensors`` or else ``pytorch_model.bin`` (``util.py:
    load_file_path`` / ``Module.load_torch_weights``). Without ``modules.json``: one Transformer at the root."""
    if "modules.json" not in files:
        plan = _transformers_weights(LoadCall("transformers", call.options), files, read_json)
        return LoadPlan(
            plan.files, f"sentence-transformers without modules.json -> {plan.rule}", plan.decided, plan.problems
        )
    if read_json is None:
        return every_weight(files, "modules.json not read")
    try:
        modules = [(str(m.get("path", "")), str(m.get("type", ""))) for m in read_json("modules.json")]
    except Exception as exc:
        plan = every_weight(files, "modules.json unreadable")
        return LoadPlan(
            plan.files, plan.rule, False, (f"modules.json could not be read ({type(exc).__name__}: {exc})",)
        )
    loaded: list[str] = []
    problems: list[str] = []
    for path, kind in modules:
        if kind.endswith(".Transformer") or kind.endswith("models.Transformer"):
            plan = _transformers_weights(LoadCall("transformers", {}), files, read_json, folder=path)
        else:
            safe, pt = _join(path, SAFE_WEIGHTS), _join(path, PT_WEIGHTS)
            plan = LoadPlan((safe,) if safe in files else _present([pt], files), "module weights")
        loaded += plan.files
        problems += plan.problems
    return LoadPlan(
        tuple(sorted(set(loaded))),
        "sentence-transformers: modules.json and each module's weights",
        True,
        tuple(problems),
    )


# diffusers/utils/constants.py: WEIGHTS_NAME, SAFETENSORS_WEIGHTS_NAME (+ index); components of
# transformers classes use transformers' names (pipelines/pipeline_loading_utils.py: load_sub_model).
DIFFUSERS_SAFE = "diffusion_pytorch_model.safetensors"
DIFFUSERS_PT = "diffusion_pytorch_model.bin"


def _diffusers(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """diffusers ``pipelines/pipeline_utils.py: DiffusionPipeline.download`` / ``from_pretrained``: the
    components named in ``model_index.json`` (keys without ``_``), each folder's weights; safetensors
    unless ``use_safetensors=False``; ``variant`` picks ``*.<variant>.*`` names. ``ModelMixin`` (no
    ``model_index.json``): the weights at ``subfolder``."""
    use_safetensors = call.options.get("use_safetensors") is not False
    variant = call.options.get("variant")
    if "model_index.json" not in files or call.options.get("subfolder"):
        folder = str(call.options.get("subfolder") or "")
        return LoadPlan(
            _component(folder, files, use_safetensors, variant, read_json),
            "diffusers ModelMixin.from_pretrained: the folder's weights",
        )
    if read_json is None:
        return every_weight(files, "model_index.json not read")
    try:
        index = read_json("model_index.json")
        components = [key for key, value in index.items() if not key.startswith("_") and isinstance(value, list)]
    except Exception as exc:
        plan = every_weight(files, "model_index.json unreadable")
        return LoadPlan(
            plan.files, plan.rule, False, (f"model_index.json could not be read ({type(exc).__name__}: {exc})",)
        )
    loaded: list[str] = []
    for component in components:
        loaded += _component(component, files, use_safetensors, variant, read_json)
    return LoadPlan(tuple(sorted(set(loaded))), "diffusers: model_index.json components")


def _component(
    folder: str, files: frozenset[str], use_safetensors: bool, variant: object, read_json: ReadJson | None
) -> tuple[str, ...]:
    for safe, pt in ((DIFFUSERS_SAFE, DIFFUSERS_PT), (SAFE_WEIGHTS, PT_WEIGHTS)):
        names = [safe, pt] if use_safetensors else [pt]
        for name in names:
            single = _join(folder, _variant(name, variant))
            if single in files:
                return (single,)
            index = _join(folder, _variant(f"{name}.index.json", variant))
            if index in files:
                return tuple(_shards(index, files, read_json)[0])
    return ()


def _peft(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """peft ``utils/save_and_load.py: load_peft_weights``: ``adapter_model.safetensors``, else
    ``adapter_model.bin`` (``use_safetensors`` default True), in ``subfolder``."""
    folder = str(call.options.get("subfolder") or "")
    safe, pt = _join(folder, "adapter_model.safetensors"), _join(folder, "adapter_model.bin")
    if safe in files and call.options.get("use_safetensors") is not False:
        return LoadPlan((safe,), "peft: adapter_model.safetensors")
    return LoadPlan(_present([pt], files), "peft: adapter_model.bin")


def _timm(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """timm ``models/_hub.py: load_state_dict_from_hf``: ``model.safetensors`` if present, else
    ``pytorch_model.bin`` (HF_SAFE_WEIGHTS_NAME / HF_WEIGHTS_NAME)."""
    return LoadPlan(
        (SAFE_WEIGHTS,) if SAFE_WEIGHTS in files else _present([PT_WEIGHTS], files),
        "timm: model.safetensors, else pytorch_model.bin",
    )


def _open_clip(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """open_clip ``pretrained.py: download_pretrained_from_hf``: ``open_clip_model.safetensors``, else
    ``open_clip_pytorch_model.bin``."""
    safe, pt = "open_clip_model.safetensors", "open_clip_pytorch_model.bin"
    return LoadPlan(
        (safe,) if safe in files else _present([pt], files), "open_clip: open_clip_model.safetensors, else .bin"
    )


def _llama_cpp(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """llama_cpp ``llama.py: Llama.from_pretrained``: ``fnmatch`` of ``filename`` over the file list;
    exactly one match is loaded (several or none: the call raises)."""
    pattern = call.options.get("filename")
    if not isinstance(pattern, str):
        return every_weight(files, "llama-cpp filename not known statically")
    matching = sorted(p for p in files if fnmatch.fnmatch(p, pattern))
    if len(matching) != 1:
        return LoadPlan((), f"llama-cpp: {len(matching)} files match {pattern!r}: the call fails")
    extra = call.options.get("additional_files")
    if extra is not None and not isinstance(extra, (list, tuple)):
        return every_weight(files, "llama-cpp additional_files not known statically")
    # additional_files (split GGUF parts): each pattern downloads its one match the same way
    for extra_pattern in extra or ():
        matching += [p for p in files if fnmatch.fnmatch(p, str(extra_pattern)) and p not in matching]
    return LoadPlan(tuple(sorted(matching)), "llama-cpp: the one file matching filename (and additional_files)")


def _lora(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """diffusers ``loaders/lora_base.py: _fetch_state_dict``: ``weight_name`` in ``subfolder`` when given;
    without it diffusers guesses among the repo's weight files (``_best_guess_weight_name``): every one."""
    name = call.options.get("weight_name")
    if not isinstance(name, str):
        return every_weight(files, "load_lora_weights without a literal weight_name guesses among the weights")
    return LoadPlan(
        (_join(str(call.options.get("subfolder") or ""), name),), "diffusers load_lora_weights: weight_name"
    )


DATA_SUFFIXES = (".parquet", ".arrow", ".csv", ".tsv", ".json", ".jsonl", ".txt", ".zip", ".tar", ".gz", ".npy", ".npz")


def _datasets(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    """datasets ``load.py: HubDatasetModuleFactory``: a ``<name>.py`` script is remote code (5.x refuses
    it); else the data files (``data_files=`` patterns, else every data file), judged by the readers."""
    problems: tuple[str, ...] = ()
    scripts = sorted(p for p in files if "/" not in p and p.endswith(".py"))
    if scripts:
        problems = (f"{scripts[0]} is a loading script: remote code (datasets 5.x refuses it)",)
    patterns = _as_patterns(call.options.get("data_files"))
    data_dir = call.options.get("data_dir")
    folder = f"{str(data_dir).strip('/')}/" if isinstance(data_dir, str) and data_dir.strip("/") else ""
    chosen = [
        p
        for p in files
        if (p.lower().endswith(DATA_SUFFIXES) or is_weight_like(p))
        and p.startswith(folder)
        and (patterns is None or any(_matches(p[len(folder) :], pattern) for pattern in patterns))
        and posixpath.basename(p) not in ("README.md", ".gitattributes")
    ]
    return LoadPlan(tuple(sorted(chosen)), "datasets: data files", True, problems)


def _from_pretrained(call: LoadCall, files: frozenset[str], read_json: ReadJson | None) -> LoadPlan:
    return _transformers_weights(call, files, read_json)


def _prefix(*prefixes: str) -> Callable[[str], bool]:
    return lambda api: api.startswith(prefixes)


#: (does the row apply to this API name, what the call loads). First match wins; order matters.
LOADERS: list[tuple[Callable[[str], bool], Callable[[LoadCall, frozenset[str], ReadJson | None], LoadPlan]]] = [
    (lambda api: api.endswith("hf_hub_download"), _named_file),
    (lambda api: api.endswith("snapshot_download"), _snapshot),
    (_prefix("sentence_transformers."), _sentence_transformers),
    (_prefix("diffusers."), _diffusers),
    (_prefix("peft."), _peft),
    (_prefix("timm."), _timm),
    (_prefix("open_clip."), _open_clip),
    (_prefix("llama_cpp."), _llama_cpp),
    (_prefix("datasets."), _datasets),
    (lambda api: api == "load_lora_weights", _lora),
    (lambda api: api.startswith("transformers.") or api.endswith("from_pretrained"), _from_pretrained),
]
