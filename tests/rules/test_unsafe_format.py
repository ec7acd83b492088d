"""Rule unsafe-format: Keras Lambda layers and foreign functions, legacy Keras H5, SavedModel ops
that reach files or Python, ONNX external data outside the model, GGUF chat-template injection.

Readers are tested on real files where the writer is light (onnx.helper, gguf-py, Keras 3 with
the torch backend, h5py) and on hand-built files (GGUF with struct, protobuf with a small encoder,
Keras configs as JSON); the rule is tested through real pytest sessions (pytester), serial and
under xdist.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from helpers.formats_extra import (
    INJECTION_CHAT_TEMPLATE,
    NORMAL_CHAT_TEMPLATE,
    STANDARD_NODES,
    dense_model,
    gguf_bytes,
    keras_archive_bytes,
    keras_dense,
    keras_function,
    keras_functional,
    keras_input,
    keras_lambda,
    keras_sequential,
    legacy_config,
    legacy_dense,
    legacy_lambda,
    llama_metadata,
    nested_lambda_model,
    onnx_model_bytes,
    onnx_tensor_bytes,
    saved_model_bytes,
    write_gguf,
    write_keras,
    write_legacy_h5,
    write_real_gguf,
    write_real_keras_models,
    write_real_onnx,
    write_saved_model,
)
from pytest_aisupply.formats import analyze_path, builtin_readers, sniff_path
from pytest_aisupply.formats import gguf as gguf_format
from pytest_aisupply.formats import keras as keras_format
from pytest_aisupply.formats.bytestream import ByteReader
from pytest_aisupply.formats.gguf import GgufHeader, read_gguf_header, scan_chat_template
from pytest_aisupply.formats.keras import KerasArchiveReader, KerasConfig, KerasH5Reader, scan_keras_config
from pytest_aisupply.formats.onnx import OnnxModel, location_problem, read_onnx
from pytest_aisupply.formats.savedmodel import SavedModelGraph, read_saved_model

# Libraries that write real files are imported when this module is collected: pytester restores
# sys.modules after every test, and some extension modules cannot be imported twice.
try:
    import h5py as _h5py
except ImportError:  # pragma: no cover - the test extra installs h5py
    _h5py = None
try:
    import onnx as _onnx
except ImportError:  # pragma: no cover - the test extra installs onnx
    _onnx = None
try:
    import gguf as _gguf
except ImportError:  # pragma: no cover - the test extra installs gguf
    _gguf = None

READERS = builtin_readers()


def need(module: Any, name: str) -> None:
    if module is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")


def gguf_header(data: bytes) -> GgufHeader:
    return read_gguf_header(ByteReader(io.BytesIO(data), size=len(data)))


def constructs(template: str) -> list[str]:
    return [item.construct for item in scan_chat_template(template)]


# --------------------------------------------------------------------------------------------
# GGUF
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("big_endian", [False, True], ids=["little", "big"])
def test_gguf_reader_finds_the_chat_template(version: int, big_endian: bool) -> None:
    data = gguf_bytes(llama_metadata(INJECTION_CHAT_TEMPLATE), version=version, big_endian=big_endian)
    header = gguf_header(data)
    assert header.problems == []
    assert (header.version, header.tensor_count, header.kv_count) == (version, 1, 12)
    [template] = header.templates
    assert template.key == "tokenizer.chat_template"
    assert template.text == INJECTION_CHAT_TEMPLATE
    globals_access = next(item for item in template.constructs if item.construct == "__globals__")
    assert (globals_access.line, globals_access.column) == (2, 20)
    assert "cycler.__init__.__globals__.os.popen" in globals_access.excerpt


def test_gguf_normal_template_has_no_construct() -> None:
    header = gguf_header(gguf_bytes(llama_metadata(NORMAL_CHAT_TEMPLATE)))
    assert header.problems == []
    assert [template.constructs for template in header.templates] == [()]


def test_gguf_named_templates_and_files_without_template() -> None:
    metadata = llama_metadata(NORMAL_CHAT_TEMPLATE, tool_use="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    header = gguf_header(gguf_bytes(metadata))
    assert [(t.key, [c.construct for c in t.constructs]) for t in header.templates] == [
        ("tokenizer.chat_template", []),
        ("tokenizer.chat_template.tool_use", ["__class__", "__mro__", "__subclasses__"]),
    ]
    assert gguf_header(gguf_bytes(llama_metadata(None))).templates == []


def test_gguf_files_written_by_gguf_py_are_read(tmp_path: Path) -> None:
    need(_gguf, "gguf")
    path = write_real_gguf(tmp_path / "real.gguf", INJECTION_CHAT_TEMPLATE)
    facts = analyze_path(path, READERS)
    [header] = facts.detail("gguf")
    assert isinstance(header, GgufHeader)
    assert header.problems == []
    assert "__globals__" in [item.construct for item in header.templates[0].constructs]


def test_hand_built_gguf_is_what_gguf_py_reads(tmp_path: Path) -> None:
    """The struct-built files of these tests follow the format: llama.cpp's own reader agrees."""
    need(_gguf, "gguf")
    path = write_gguf(tmp_path / "hand.gguf", NORMAL_CHAT_TEMPLATE)
    reader = _gguf.GGUFReader(str(path))
    assert bytes(reader.fields["tokenizer.chat_template"].parts[-1]).decode() == NORMAL_CHAT_TEMPLATE
    assert [tensor.name for tensor in reader.tensors] == ["token_embd.weight"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (gguf_bytes(llama_metadata(NORMAL_CHAT_TEMPLATE))[:200], "metadata is truncated"),
        (gguf_bytes([], kv_count=1 << 20), "over the cap of 65536"),
        (b"GGUF\x03\x00\x00\x00\x01", "metadata is truncated"),
        (b"GGUF" + (7).to_bytes(4, "little") + bytes(16), "unsupported GGUF version 7"),
        (gguf_bytes([("tokenizer.chat_template", 8, b"{{ \xff }}")]), "is not UTF-8"),
    ],
    ids=["truncated", "kv-cap", "short-header", "version", "not-utf8"],
)
def test_gguf_malformed_metadata_is_a_problem(data: bytes, problem: str) -> None:
    header = gguf_header(data)
    assert any(problem in message for message in header.problems), header.problems


def test_gguf_unknown_value_type_stops_the_read() -> None:
    data = gguf_bytes([("general.name", 8, "x")])
    data = data.replace((8).to_bytes(4, "little") + (1).to_bytes(8, "little") + b"x", (13).to_bytes(4, "little"), 1)
    assert any("unknown value type 13" in problem for problem in gguf_header(data).problems)


def test_gguf_template_over_the_cap_is_not_inspected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf_format, "MAX_TEMPLATE", 64)
    header = gguf_header(gguf_bytes(llama_metadata(NORMAL_CHAT_TEMPLATE)))
    assert header.templates == []
    assert any("over the cap of 64; not inspected" in problem for problem in header.problems)


INJECTIONS = {
    "globals": ("{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}", "__globals__"),
    "mro": ("{{ ''.__class__.mro()[1].__subclasses__() }}", "mro"),
    "attr-filter": ("{{ ()|attr('__class__')|attr('__base__') }}", "|attr"),
    "escaped": ("{{ lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f') }}", "__globals__"),
    "unicode-escaped": ("{{ x['\\u005f\\u005fclass\\u005f\\u005f'] }}", "__class__"),
    "concatenated": ("{{ x|attr('__cla' ~ 'ss__') }}", "'__'"),
    "char-codes": ("{{ x|attr('%c%cclass%c%c'|format(95,95,95,95)) }}", "%c"),
    "lipsum": ("{{ lipsum.__globals__['os'].popen('id') }}", "lipsum"),
    "namespace-init": ("{% set ns = namespace() %}{{ ns.__init__.__globals__ }}", "__init__"),
    "joiner": ("{{ joiner.__init__ }}", "joiner."),
    "request": ("{{ request.application.__self__._get_data_for_json.__globals__ }}", "request."),
    "template-reference": ("{{ self._TemplateReference__context.cycler }}", "_TemplateReference__context"),
    "os": ("{{ os.system('id') }}", "os."),
    "statement": ("{% set x = config.__class__.__init__.__globals__['os'] %}", "__globals__"),
    "import": ("{% import 'os' as os %}", "import"),
    "subscript-dunder": ("{{ x['__globals__'] }}", "__globals__"),
    "unterminated": ("{{ x.__class__", "__class__"),
}


@pytest.mark.parametrize(("template", "construct"), INJECTIONS.values(), ids=INJECTIONS.keys())
def test_template_injection_constructs_are_found(template: str, construct: str) -> None:
    assert construct in constructs(template)


BENIGN = {
    "chatml": NORMAL_CHAT_TEMPLATE,
    "llama3": (
        "{{- bos_token }}{%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}"
        "{%- if not date_string is defined %}{%- set date_string = strftime_now('%d %b %Y') %}{%- endif %}"
        "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
        "{{- message['content'] | trim + '<|eot_id|>' }}{%- if message.tool_calls is defined %}"
        "{%- for tool_call in message.tool_calls %}{{- tool_call.function.arguments | tojson }}{%- endfor %}"
        "{%- endif %}{%- endfor %}{%- if builtin_tools is defined %}{{- builtin_tools | join(', ') }}{%- endif %}"
    ),
    "mistral": (
        "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
        "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
        "{%- for message in loop_messages %}{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{- raise_exception('After the optional system message, roles must alternate user/assistant/...') }}"
        "{%- endif %}{%- if message['role'] == 'user' %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}"
        "{%- else %}{{- ' ' + message['content'] + eos_token }}{%- endif %}{%- endfor %}"
    ),
    "text-mentions": (
        "Never reveal __globals__ or os.popen; {# {{ x.__class__ }} is a comment #}"
        "{% raw %}{{ cycler.__init__ }}{% endraw %}{{ messages | length }}"
    ),
    "deepseek-namespace": (
        "{%- set ns = namespace(is_first=false, is_tool=false, system_prompt='') -%}"
        "{%- for message in messages -%}{%- if message['role'] == 'system' -%}"
        "{%- set ns.system_prompt = ns.system_prompt + message['content'] -%}{%- endif -%}{%- endfor -%}"
        "{{ ns.system_prompt }}{{ '<\uff5cAssistant\uff5c>' if add_generation_prompt else '' }}"
    ),
}


@pytest.mark.parametrize("template", BENIGN.values(), ids=BENIGN.keys())
def test_normal_templates_have_no_construct(template: str) -> None:
    assert scan_chat_template(template) == []


# --------------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------------


def onnx_model(path: Path) -> OnnxModel:
    [model] = analyze_path(path, READERS).detail("onnx")
    assert isinstance(model, OnnxModel)
    return model


def test_onnx_real_models_record_external_data(tmp_path: Path) -> None:
    need(_onnx, "onnx")
    embedded = onnx_model(write_real_onnx(tmp_path / "embedded.onnx", None))
    assert (embedded.external, embedded.problems, embedded.tensors) == ([], [], 1)
    beside = onnx_model(write_real_onnx(tmp_path / "beside.onnx", "beside.onnx.data"))
    assert [(t.where, t.name, t.location) for t in beside.external] == [
        ("graph > initializer", "W", "beside.onnx.data")
    ]
    escaping = onnx_model(write_real_onnx(tmp_path / "m" / "evil.onnx", "../../etc/passwd", data_file=False))
    assert [t.location for t in escaping.external] == ["../../etc/passwd"]
    assert escaping.ir_version >= 3


def test_onnx_attribute_tensors_and_all_location_entries_are_read(tmp_path: Path) -> None:
    constant = onnx_tensor_bytes("c", "..\\..\\secret")
    data = onnx_model_bytes([onnx_tensor_bytes("w", "/etc/passwd"), onnx_tensor_bytes("b", None)], constant=constant)
    path = tmp_path / "hand.onnx"
    path.write_bytes(data)
    assert sniff_path(path, READERS) == ("onnx", True)
    model = onnx_model(path)
    assert [(t.where, t.name, t.location) for t in model.external] == [
        ("graph > node 'const' > attribute", "c", "..\\..\\secret"),
        ("graph > initializer", "w", "/etc/passwd"),
    ]
    assert model.tensors == 3


def test_onnx_truncated_model_is_a_problem(tmp_path: Path) -> None:
    data = onnx_model_bytes([onnx_tensor_bytes("w", "w.bin", raw=b"")] * 3)
    model = read_onnx(ByteReader(io.BytesIO(data[:-7]), size=len(data) - 7), len(data) - 7)
    assert model.problems
    assert "not a readable ONNX model" in model.problems[0]


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("weights.bin", None),
        ("data/weights.bin", None),
        ("data/../weights.bin", None),
        ("./weights.bin", None),
        ("../../etc/passwd", "escape the model folder"),
        ("data/../../x", "escape the model folder"),
        ("..\\..\\windows\\win.ini", "escape the model folder"),
        ("/etc/passwd", "absolute path"),
        ("\\\\server\\share\\w", "absolute path"),
        ("C:\\Windows\\win.ini", "absolute path"),
        ("~/.ssh/id_rsa", "home directory"),
        ("", "is empty"),
        ("w\x00.bin", "NUL byte"),
    ],
)
def test_onnx_location_problems(location: str, problem: str | None) -> None:
    result = location_problem(location)
    assert (result is None) if problem is None else (result is not None and problem in result)


# --------------------------------------------------------------------------------------------
# TensorFlow SavedModel
# --------------------------------------------------------------------------------------------


def saved_model(data: bytes) -> SavedModelGraph:
    return read_saved_model(ByteReader(io.BytesIO(data), size=len(data)), len(data))


def test_savedmodel_standard_graph_has_no_unsafe_op(tmp_path: Path) -> None:
    path = write_saved_model(tmp_path / "model", STANDARD_NODES, functions={"__inference_call_10": STANDARD_NODES})
    assert sniff_path(path, READERS) == ("savedmodel", True)
    [graph] = analyze_path(path, READERS).detail("savedmodel")
    assert isinstance(graph, SavedModelGraph)
    assert (graph.meta_graphs, graph.functions, graph.nodes) == (1, 1, 2 * len(STANDARD_NODES))
    assert (graph.unsafe, graph.problems) == ([], [])


def test_savedmodel_file_and_python_ops_are_found_in_graphs_and_functions() -> None:
    graph = saved_model(
        saved_model_bytes(
            [*STANDARD_NODES, ("io/ReadFile", "ReadFile")],
            functions={"__inference_serve_7": [("py", "EagerPyFunc"), ("mm", "MatMul"), ("w", "WriteFile")]},
        )
    )
    assert [(use.op, use.node, use.where) for use in graph.unsafe] == [
        ("ReadFile", "io/ReadFile", "meta_graphs[0] > graph_def > node"),
        ("EagerPyFunc", "py", "meta_graphs[0] > graph_def > library > function '__inference_serve_7' > node_def"),
        ("WriteFile", "w", "meta_graphs[0] > graph_def > library > function '__inference_serve_7' > node_def"),
    ]


def test_savedmodel_truncated_is_a_problem() -> None:
    data = saved_model_bytes(STANDARD_NODES)
    graph = saved_model(data[:-9])
    assert graph.problems
    assert "not a readable SavedModel" in graph.problems[0]


# --------------------------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------------------------


def test_keras_config_walk_finds_a_nested_lambda_with_its_path() -> None:
    code, problems = scan_keras_config(nested_lambda_model(), "config.json")
    assert problems == []
    assert [(item.kind, item.name, item.path) for item in code] == [
        ("lambda-layer", "scale", "config.json > layers[2] Sequential 'block' > layers[1] Lambda 'scale'")
    ]
    assert code[0].details == ("function: Python bytecode of a lambda (marshal, base64)",)


def test_keras_config_walk_passes_plain_dense_models() -> None:
    assert scan_keras_config(dense_model(), "config.json") == ([], [])


def test_keras_config_walk_finds_functions_custom_objects_and_unknown_objects() -> None:
    custom_layer = {
        "module": "my_layers",
        "class_name": "Scale",
        "config": {"name": "s"},
        "registered_name": "my>Scale",
    }
    hub_layer = {
        "module": "keras_hub.src.layers",
        "class_name": "Emb",
        "config": {},
        "registered_name": "keras_hub>Emb",
    }
    lambda_activation = {"class_name": "__lambda__", "config": {"value": ["x", None, None]}}
    layers = [
        keras_input(),
        keras_dense("d1", activation=keras_function("system", "os")),
        keras_dense("d2", activation=keras_function("relu", "keras.activations")),
        keras_dense("d3", activation=lambda_activation),
        custom_layer,
        hub_layer,
        keras_dense("d4", activation={"class_name": "__python_function__", "config": {}}),
        keras_lambda("named", function=keras_function("shift", "my_functions")),
    ]
    code, problems = scan_keras_config(keras_sequential("outer", [keras_functional("inner", layers)]), "config.json")
    assert problems == []
    inner = "config.json > layers[0] Functional 'inner'"
    assert [(item.kind, item.name, item.path) for item in code] == [
        ("function", "system", f"{inner} > layers[1] Dense 'd1' > activation function"),
        ("lambda", "", f"{inner} > layers[3] Dense 'd3' > activation __lambda__"),
        ("custom-object", "my>Scale", f"{inner} > layers[4] Scale 's'"),
        ("unknown-object", "__python_function__", f"{inner} > layers[6] Dense 'd4' > activation __python_function__"),
        ("lambda-layer", "named", f"{inner} > layers[7] Lambda 'named'"),
    ]
    assert code[0].details == ("module: os",)
    assert code[-1].details == ("function: function 'shift' from module my_functions",)


def test_keras_config_walk_reads_keras2_configs() -> None:
    code, _ = scan_keras_config(legacy_config([legacy_dense("d"), legacy_lambda("scale")]), "model_config attribute")
    assert [(item.kind, item.path) for item in code] == [
        ("lambda-layer", "model_config attribute > layers[1] Lambda 'scale'")
    ]
    assert code[0].details == ("function: Python bytecode of a lambda (marshal, base64)",)


def test_keras_config_walk_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    deep: Any = keras_dense("leaf")
    for index in range(30):
        deep = keras_sequential(f"s{index}", [deep])
    monkeypatch.setattr(keras_format, "MAX_CONFIG_DEPTH", 20)
    _code, problems = scan_keras_config(deep, "config.json")
    assert problems
    assert "nested deeper than 20 levels" in problems[0]
    monkeypatch.setattr(keras_format, "MAX_CONFIG_VALUES", 50)
    _, problems = scan_keras_config(nested_lambda_model(), "config.json")
    assert any("more than 50 values" in problem for problem in problems)


def keras_configs(path: Path, reader: Any = None) -> list[KerasConfig]:
    facts = analyze_path(path, [reader or KerasArchiveReader()])
    configs = [value for value in facts.detail("keras_config") if isinstance(value, KerasConfig)]
    assert not facts.problems, facts.problems
    return configs


def test_keras_archive_reader(tmp_path: Path) -> None:
    [config] = keras_configs(write_keras(tmp_path / "nested.keras", nested_lambda_model()))
    assert config.inspected
    assert [item.name for item in config.code] == ["scale"]
    [config] = keras_configs(write_keras(tmp_path / "dense.keras", dense_model()))
    assert (config.code, config.problems) == ([], [])


@pytest.mark.parametrize(
    ("archive", "problem"),
    [
        (keras_archive_bytes(b"{not json"), "config.json is not valid JSON"),
        (keras_archive_bytes(b"\xff\xfe{}"), "config.json is not UTF-8"),
        (keras_archive_bytes(b"[" * 100_000 + b"]" * 100_000), "config.json is not valid JSON"),
    ],
    ids=["bad-json", "not-utf8", "deep-json"],
)
def test_keras_unreadable_configs_are_problems(tmp_path: Path, archive: bytes, problem: str) -> None:
    path = tmp_path / "model.keras"
    path.write_bytes(archive)
    [config] = keras_configs(path)
    assert not config.inspected
    assert any(problem in message for message in config.problems), config.problems


def test_keras_archive_without_config_or_over_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")
    [config] = keras_configs(path)
    assert "no config.json at the root" in config.problems[0]
    monkeypatch.setattr(keras_format, "MAX_CONFIG_BYTES", 100)
    [config] = keras_configs(write_keras(tmp_path / "big.keras", dense_model()))
    assert "over the cap of 100" in config.problems[0]


def test_legacy_h5_reader(tmp_path: Path) -> None:
    need(_h5py, "h5py")
    reader = KerasH5Reader()
    lambda_model = legacy_config([legacy_dense("d"), legacy_lambda("scale")])
    for as_bytes in (True, False):
        path = write_legacy_h5(tmp_path / f"lambda-{as_bytes}.h5", lambda_model, as_bytes=as_bytes)
        [config] = keras_configs(path, reader)
        assert [(item.kind, item.path) for item in config.code] == [
            ("lambda-layer", "model_config > layers[1] Lambda 'scale'")
        ]
    [config] = keras_configs(write_legacy_h5(tmp_path / "dense.h5", legacy_config([legacy_dense("d")])), reader)
    assert (config.code, config.problems, config.source) == ([], [], "model_config attribute")
    assert keras_configs(write_legacy_h5(tmp_path / "data.h5", None), reader) == []


def test_legacy_h5_without_h5py_records_that_it_was_not_read(tmp_path: Path) -> None:
    need(_h5py, "h5py")
    path = write_legacy_h5(tmp_path / "model.h5", legacy_config([legacy_dense("d")]))
    facts = analyze_path(path, [KerasH5Reader(load_h5py=lambda: None)])
    assert facts.detail("keras_h5_unread") == [""]
    assert facts.detail("keras_config") == []


def test_corrupt_h5_is_a_problem(tmp_path: Path) -> None:
    need(_h5py, "h5py")
    path = write_legacy_h5(tmp_path / "model.h5", legacy_config([legacy_dense("d")]))
    data = path.read_bytes()
    path.write_bytes(data[:600])
    [config] = keras_configs(path, KerasH5Reader())
    assert not config.inspected
    assert "cannot be read by h5py" in config.problems[0]


@pytest.fixture(scope="session")
def real_keras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("real Keras files need keras and torch (the test extra and .ci/run install them)")
    return write_real_keras_models(tmp_path_factory.mktemp("keras"))


def test_real_keras_files(real_keras: dict[str, Path]) -> None:
    need(_h5py, "h5py")
    found = {}
    for name, path in real_keras.items():
        reader = KerasH5Reader() if name.endswith(".h5") else KerasArchiveReader()
        found[name] = [
            (item.kind, item.name, item.path) for config in keras_configs(path, reader) for item in config.code
        ]
    assert found["nested_lambda.keras"] == [
        ("lambda-layer", "scale", "config.json > layers[2] Sequential 'block' > layers[1] Lambda 'scale'")
    ]
    assert found["dense.keras"] == []
    assert [kind for kind, _, _ in found["custom_fn.keras"]] == ["function"]
    assert found["lambda.h5"] == [("lambda-layer", "shift", "model_config > layers[1] Lambda 'shift'")]
    assert found["dense.h5"] == []


# --------------------------------------------------------------------------------------------
# The rule in real pytest sessions
# --------------------------------------------------------------------------------------------

_SERIAL_LINE = re.compile(r"^(\S+) (PASSED|FAILED|ERROR|SKIPPED)\b")
_XDIST_LINE = re.compile(r"^\[gw\d+\] \[\s*\d+%\] (PASSED|FAILED|ERROR|SKIPPED) (\S+)")


def outcomes_by_nodeid(result: pytest.RunResult, prefix: str = "aisupply::unsafe-format::") -> dict[str, str]:
    """Outcome per node id (those starting with ``prefix``) from ``-v`` output, serial or xdist."""
    outcomes = {}
    for line in result.outlines:
        if match := _SERIAL_LINE.match(line):
            outcomes[match[1]] = match[2]
        elif match := _XDIST_LINE.match(line):
            outcomes[match[2]] = match[1]
    return {node: outcome for node, outcome in outcomes.items() if node.startswith(prefix)}


def build_repo(root: Path) -> None:
    """Both sides of each acceptance case, plus SavedModels, a legacy H5, and zips that are not
    Keras archives (never subjects of this rule)."""
    models = root / "models"
    write_keras(models / "nested.keras", nested_lambda_model())
    write_keras(models / "dense.keras", dense_model())
    write_gguf(models / "chat.gguf", INJECTION_CHAT_TEMPLATE)
    write_gguf(models / "normal.gguf", NORMAL_CHAT_TEMPLATE)
    (models / "evil").mkdir()
    (models / "evil" / "model.onnx").write_bytes(onnx_model_bytes([onnx_tensor_bytes("W", "../../etc/passwd")]))
    (models / "embedded.onnx").write_bytes(onnx_model_bytes([onnx_tensor_bytes("W", None)]))
    write_saved_model(models / "reader", [*STANDARD_NODES, ("ReadFile", "ReadFile")])
    write_saved_model(models / "plain", STANDARD_NODES)
    with zipfile.ZipFile(models / "bundle.zip", "w") as archive:
        archive.writestr("config.json", json.dumps({"hidden": 3}))
    (root / "conftest.py").write_text("")


EXPECTED = {
    "aisupply::unsafe-format::models/nested.keras": "FAILED",
    "aisupply::unsafe-format::models/dense.keras": "PASSED",
    "aisupply::unsafe-format::models/chat.gguf": "FAILED",
    "aisupply::unsafe-format::models/normal.gguf": "PASSED",
    "aisupply::unsafe-format::models/evil/model.onnx": "FAILED",
    "aisupply::unsafe-format::models/embedded.onnx": "PASSED",
    "aisupply::unsafe-format::models/reader/saved_model.pb": "FAILED",
    "aisupply::unsafe-format::models/plain/saved_model.pb": "PASSED",
}


@pytest.fixture
def repo(pytester: pytest.Pytester) -> Path:
    pytester.makepyprojecttoml("[tool.aisupply]\n")
    build_repo(pytester.path)
    return pytester.path


@pytest.mark.usefixtures("repo")
@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_acceptance_verdicts(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--aisupply-only", *xdist_args)
    assert outcomes_by_nodeid(result) == EXPECTED
    assert "Traceback" not in result.stdout.str()


@pytest.mark.usefixtures("repo")
def test_failure_messages_say_what_where_and_how_to_fix(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--aisupply-only", "-k", "unsafe-format")
    result.stdout.fnmatch_lines(
        [
            "*[[]aisupply[]] unsafe-format: models/nested.keras (Keras v3 archive): 1 finding",
            "  - found: Keras Lambda layer 'scale' (runs Python code when the model loads)",
            "    where: config.json > layers[2] Sequential 'block' > layers[1] Lambda 'scale'",
            "    function: Python bytecode of a lambda (marshal, base64)",
            "    fix:   replace the Lambda with built-in layers*safe_mode=True*[[]tool.aisupply.waive[]]*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*[[]aisupply[]] unsafe-format: models/chat.gguf (gguf): 1 finding",
            "  - found: chat template uses template-injection constructs: cycler., __init__, __globals__, popen",
            "    where: GGUF metadata tokenizer.chat_template, line 2, column 1",
            "    template: {{ cycler.__init__.__globals__.os.popen('touch /tmp/pwned').read() }}",
            "    cycler. (line 2, column 4): attribute access on a Jinja global*",
            "    __init__ (line 2, column 11): dunder attribute access*",
            "    __globals__ (line 2, column 20): dunder attribute access*",
            "    popen (line 2, column 35): runs a shell command",
            "    fix:   remove the construct*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*[[]aisupply[]] unsafe-format: models/evil/model.onnx (onnx): 1 finding",
            "  - found: ONNX external data location '../../etc/passwd' has '..' segments that escape the model "
            "folder (loading the model reads that file into a tensor)",
            "    where: graph > initializer 'W'",
            "    tensors: 'W' (1)",
            "    fix:   keep external data files next to the model*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*unsafe-format: models/reader/saved_model.pb (savedmodel): 1 finding",
            "  - found: TensorFlow op ReadFile (reads any file named by a string tensor) in 1 node of the graph",
            "    where: meta_graphs[0] > graph_def > node 'ReadFile'",
        ]
    )


def test_zips_that_are_not_keras_archives_are_not_subjects(pytester: pytest.Pytester, repo: Path) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--aisupply-only")
    assert "aisupply::no-pickle::models/bundle.zip PASSED" in result.stdout.str()
    assert "unsafe-format::models/bundle.zip" not in result.stdout.str()


def test_legacy_h5_with_and_without_h5py(pytester: pytest.Pytester) -> None:
    need(_h5py, "h5py")
    pytester.makepyprojecttoml("[tool.aisupply]\n")
    write_legacy_h5(pytester.path / "lambda.h5", legacy_config([legacy_dense("d"), legacy_lambda("scale")]))
    write_legacy_h5(pytester.path / "dense.h5", legacy_config([legacy_dense("d")]))
    write_legacy_h5(pytester.path / "data.h5", None)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--aisupply-only", "-k", "unsafe-format")
    assert outcomes_by_nodeid(result) == {
        "aisupply::unsafe-format::lambda.h5": "FAILED",
        "aisupply::unsafe-format::dense.h5": "PASSED",
        "aisupply::unsafe-format::data.h5": "PASSED",
    }
    result.stdout.fnmatch_lines(
        ["*found: Keras Lambda layer 'scale'*", "*where: model_config > layers[[]1[]] Lambda 'scale'"]
    )
    # Without h5py (blocked in this session's conftest), every HDF5 file fails, saying how to fix it.
    pytester.makeconftest("import sys\nsys.modules['h5py'] = None\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--aisupply-only", "-k", "unsafe-format")
    assert set(outcomes_by_nodeid(result).values()) == {"FAILED"}
    assert len(outcomes_by_nodeid(result)) == 3
    result.stdout.fnmatch_lines(
        [
            "*found: legacy Keras H5 file cannot be inspected without h5py*",
            "*fix:   install pytest-aisupply[[]h5[]] (h5py)*",
        ]
    )


def test_real_files_in_a_session(pytester: pytest.Pytester, real_keras: dict[str, Path]) -> None:
    need(_onnx, "onnx")
    need(_gguf, "gguf")
    pytester.makepyprojecttoml("[tool.aisupply]\n")
    for name in ("nested_lambda.keras", "dense.keras"):
        (pytester.path / name).write_bytes(real_keras[name].read_bytes())
    write_real_onnx(pytester.path / "onnx" / "beside.onnx", "beside.onnx.data")
    write_real_onnx(pytester.path / "onnx" / "evil.onnx", "../../etc/passwd", data_file=False)
    write_real_gguf(pytester.path / "evil.gguf", INJECTION_CHAT_TEMPLATE)
    write_real_gguf(pytester.path / "normal.gguf", NORMAL_CHAT_TEMPLATE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--aisupply-only", "-n", "2")
    assert outcomes_by_nodeid(result) == {
        "aisupply::unsafe-format::nested_lambda.keras": "FAILED",
        "aisupply::unsafe-format::dense.keras": "PASSED",
        "aisupply::unsafe-format::onnx/beside.onnx": "PASSED",
        "aisupply::unsafe-format::onnx/evil.onnx": "FAILED",
        "aisupply::unsafe-format::evil.gguf": "FAILED",
        "aisupply::unsafe-format::normal.gguf": "PASSED",
    }


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_onnx_external_data_through_a_symlink_leaving_the_folder(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(bytes(8))
    models = pytester.path / "models"
    models.mkdir()
    (models / "data").symlink_to(outside, target_is_directory=True)
    (models / "linked.onnx").write_bytes(onnx_model_bytes([onnx_tensor_bytes("W", "data/w.bin")]))
    (models / "plain.onnx").write_bytes(onnx_model_bytes([onnx_tensor_bytes("W", "w.bin")]))
    (models / "w.bin").write_bytes(bytes(8))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--aisupply-only", "-k", "unsafe-format")
    assert outcomes_by_nodeid(result) == {
        "aisupply::unsafe-format::models/linked.onnx": "FAILED",
        "aisupply::unsafe-format::models/plain.onnx": "PASSED",
    }
    result.stdout.fnmatch_lines(
        ["*location 'data/w.bin' resolves through a symlink to *outside*, outside the model folder*"]
    )


def test_unreadable_formats_fail_closed(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\n")
    (pytester.path / "cut.gguf").write_bytes(gguf_bytes(llama_metadata(NORMAL_CHAT_TEMPLATE))[:300])
    (pytester.path / "bad.keras").write_bytes(keras_archive_bytes(b"{oops"))
    cut = saved_model_bytes(STANDARD_NODES, schema_version=None)
    (pytester.path / "sm").mkdir()
    (pytester.path / "sm" / "saved_model.pb").write_bytes(cut[:-5])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--aisupply-only", "-k", "unsafe-format")
    assert outcomes_by_nodeid(result) == {
        "aisupply::unsafe-format::cut.gguf": "FAILED",
        "aisupply::unsafe-format::bad.keras": "FAILED",
        "aisupply::unsafe-format::sm/saved_model.pb": "FAILED",
    }
    result.stdout.fnmatch_lines(["*found: GGUF metadata cannot be inspected: metadata is truncated*"])
    result.stdout.fnmatch_lines(["*found: Keras config cannot be inspected: config.json is not valid JSON*"])
    result.stdout.fnmatch_lines(["*found: SavedModel cannot be inspected: not a readable SavedModel*"])


def test_severity_and_waivers_apply(pytester: pytest.Pytester) -> None:
    write_gguf(pytester.path / "chat.gguf", INJECTION_CHAT_TEMPLATE)
    write_keras(pytester.path / "nested.keras", nested_lambda_model())
    pytester.makepyprojecttoml(
        '[tool.aisupply.rules]\n"unsafe-format" = "warn"\n\n'
        '[[tool.aisupply.waive]]\nrule = "unsafe-format"\npath = "nested.keras"\nreason = "reviewed lambda"\n'
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--aisupply-only", "-k", "unsafe-format")
    result.assert_outcomes(passed=2, warnings=1)
    assert "reviewed lambda" in result.stdout.str()
