"""Builders of files in the formats that can carry code without pickle: Keras v3 archives and
legacy H5 files, GGUF headers, ONNX models and TensorFlow SavedModels.

GGUF files and protobuf messages (ONNX, SavedModel) are written by hand with ``struct`` and a
small wire-format encoder, so these builders need only the standard library; the legacy H5
builder needs h5py and the ``real_*`` builders need onnx, keras (with torch as its backend) or gguf
(tests ``pytest.importorskip`` them first). Every ``write_*`` function creates parent folders and
returns the path it wrote.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------------------------


def _keras_object(module: str, class_name: str, config: Any, **extra: Any) -> dict[str, Any]:
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None, **extra}


def keras_dense(name: str, units: int = 2, activation: Any = "linear") -> dict[str, Any]:
    """A Dense layer as Keras 3 writes it in config.json."""
    return _keras_object(
        "keras.layers",
        "Dense",
        {
            "name": name,
            "trainable": True,
            "dtype": _keras_object("keras", "DTypePolicy", {"name": "float32"}),
            "units": units,
            "activation": activation,
            "use_bias": True,
            "kernel_initializer": _keras_object(
                "keras.initializers", "GlorotUniform", {"seed": None, "input_axes": None, "output_axes": None}
            ),
            "bias_initializer": _keras_object("keras.initializers", "Zeros", {}),
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
            "quantization_config": None,
        },
        build_config={"input_shape": [None, 4]},
    )


def keras_input(name: str = "input_layer", width: int = 4) -> dict[str, Any]:
    config = {"batch_shape": [None, width], "dtype": "float32", "sparse": False, "ragged": False, "name": name}
    return _keras_object("keras.layers", "InputLayer", config)


#: The base64 of a marshalled ``lambda x: x * 2`` as Keras 3 writes it (never decoded here).
LAMBDA_CODE = "4wEAAAAAAAAAAAAAAAIAAAADAAAA8wwAAACXAHwAZAF6BQAAUwApAk7pAgAAAKkAKQHaAXhzAQAA\nACD6CDxzdHJpbmc+\n"


def keras_lambda(name: str, function: Any = None) -> dict[str, Any]:
    """A Lambda layer whose function is serialized bytecode (Keras 3 layout) unless given."""
    if function is None:
        function = {"class_name": "__lambda__", "config": {"code": LAMBDA_CODE, "defaults": None, "closure": None}}
    return _keras_object(
        "keras.layers",
        "Lambda",
        {"name": name, "trainable": True, "function": function, "arguments": {}},
        build_config={"input_shape": [None, 4]},
    )


def keras_function(name: str, module: str) -> dict[str, Any]:
    """A reference to a function ``module.name`` (as Keras 3 serializes a custom activation)."""
    return {"module": module, "class_name": "function", "config": name, "registered_name": "function"}


def keras_sequential(name: str, layers: Sequence[Mapping[str, Any]], module: str = "keras") -> dict[str, Any]:
    return _keras_object(module, "Sequential", {"name": name, "trainable": True, "layers": list(layers)})


def keras_functional(name: str, layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A functional model; each layer gets the ``name`` and ``inbound_nodes`` keys Keras adds."""
    entries = []
    previous = None
    for layer in layers:
        entry = dict(layer)
        layer_name = entry["config"].get("name", "layer")
        entry["name"] = layer_name
        history = [previous, 0, 0] if previous else None
        entry["inbound_nodes"] = (
            []
            if previous is None
            else [
                {"args": [{"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "keras_history": history}}]}
            ]
        )
        previous = layer_name
        entries.append(entry)
    first, last = entries[0]["name"], entries[-1]["name"]
    config = {
        "name": name,
        "trainable": True,
        "layers": entries,
        "input_layers": [first, 0, 0],
        "output_layers": [last, 0, 0],
    }
    return _keras_object("keras.src.models.functional", "Functional", config)


def keras_archive_bytes(config: Mapping[str, Any] | bytes, weights: bytes | None = None) -> bytes:
    """A ``.keras`` zip: metadata.json, config.json and (if given) model.weights.h5, in the order
    Keras writes them."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}))
        archive.writestr("config.json", config if isinstance(config, bytes) else json.dumps(config))
        if weights is not None:
            archive.writestr("model.weights.h5", weights)
    return buffer.getvalue()


def write_keras(path: Path, config: Mapping[str, Any] | bytes, weights: bytes | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(keras_archive_bytes(config, weights))
    return path


def nested_lambda_model() -> dict[str, Any]:
    """A functional model whose third layer is a Sequential sub-model holding Lambda 'scale'."""
    block = keras_sequential("block", [keras_input("block_input"), keras_lambda("scale"), keras_dense("inner")])
    return keras_functional("model", [keras_input(), keras_dense("dense_1"), block, keras_dense("head")])


def dense_model() -> dict[str, Any]:
    return keras_sequential("sequential", [keras_input(), keras_dense("dense"), keras_dense("head", activation="relu")])


def write_legacy_h5(path: Path, model_config: Mapping[str, Any] | None, as_bytes: bool = True) -> Path:
    """An HDF5 file (h5py) with a Keras 2-style ``model_config`` root attribute (UTF-8 bytes, as
    Keras 2 wrote it, or str as Keras 3 does), a dataset, and no model_config when None."""
    import h5py
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("model_weights/dense/kernel", data=np.zeros((4, 2), np.float32))
        if model_config is not None:
            text = json.dumps(model_config)
            handle.attrs["model_config"] = text.encode("utf-8") if as_bytes else text
            handle.attrs["keras_version"] = "2.15.0"
    return path


def legacy_config(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A Keras 2 ``model_config`` (no module keys) for a Sequential model."""
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": list(layers)}}


def legacy_lambda(name: str) -> dict[str, Any]:
    """A Keras 2 Lambda layer: bytecode as a [code, defaults, closure] list."""
    return {
        "class_name": "Lambda",
        "config": {
            "name": name,
            "function": [LAMBDA_CODE, None, None],
            "function_type": "lambda",
            "module": "__main__",
        },
    }


def legacy_dense(name: str) -> dict[str, Any]:
    return {"class_name": "Dense", "config": {"name": name, "units": 2, "activation": "relu"}}


_REAL_KERAS_SCRIPT = """
import sys, pathlib
import keras

def custom_activation(x):
    return x

out = pathlib.Path(sys.argv[1])
inputs = keras.Input((4,))
block = keras.Sequential([keras.layers.Lambda(lambda x: x * 2, name="scale"), keras.layers.Dense(2)], name="block")
keras.Model(inputs, block(keras.layers.Dense(4)(inputs))).save(out / "nested_lambda.keras")
keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2, activation="relu")]).save(
    out / "dense.keras"
)
keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation=custom_activation)]).save(out / "custom_fn.keras")
keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x + 1, name="shift")]).save(out / "lambda.h5")
keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(out / "dense.h5")
"""


def write_real_keras_models(folder: Path) -> dict[str, Path]:
    """Real files saved by Keras 3 (torch backend) in a subprocess: ``nested_lambda.keras``
    (functional model > Sequential 'block' > Lambda 'scale'), ``dense.keras``, ``custom_fn.keras``
    (Dense with a custom activation function), ``lambda.h5`` and ``dense.h5`` (legacy H5)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(
        [sys.executable, "-c", _REAL_KERAS_SCRIPT, str(folder)], check=True, env=env, capture_output=True, timeout=300
    )
    names = ["nested_lambda.keras", "dense.keras", "custom_fn.keras", "lambda.h5", "dense.h5"]
    return {name: folder / name for name in names}


# --------------------------------------------------------------------------------------------
# GGUF
# --------------------------------------------------------------------------------------------

GGUF_UINT32 = 4
GGUF_FLOAT32 = 6
GGUF_BOOL = 7
GGUF_STRING = 8
GGUF_ARRAY = 9
GGUF_UINT64 = 10

#: A normal ChatML-style chat template (what Qwen and many fine-tunes ship), with a namespace, a
#: loop, string filters and a tool list: none of it reaches past the template's data.
NORMAL_CHAT_TEMPLATE = """{%- set ns = namespace(system_found=false) -%}
{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- set ns.system_found = true -%}{%- endif %}
    {{- '\\n\\n# Tools\\n<tools>' }}
    {%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}
    {{- '\\n</tools><|im_end|>\\n' }}
{%- endif %}
{#- messages, with a check of the roles -#}
{%- for message in messages %}
    {%- if message.role not in ['system', 'user', 'assistant', 'tool'] %}
        {{- raise_exception('Unknown role: ' ~ message.role) }}
    {%- endif %}
    {%- if not (message.role == 'system' and ns.system_found) %}
        {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>' + '\\n' }}
    {%- endif %}
    {%- if loop.last and add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
{%- endfor %}
{{- bos_token if false else '' }}"""

#: The payload of the 2024 llama-cpp-python advisory: a chat template that runs a shell command
#: when rendered outside a sandbox.
INJECTION_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['content'] }}{% endfor %}\n"
    "{{ cycler.__init__.__globals__.os.popen('touch /tmp/pwned').read() }}"
)


def _gguf_string(value: str | bytes, order: str) -> bytes:
    """``order`` is the struct byte order followed by the size code (Q, or I for version 1)."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    return struct.pack(order, len(data)) + data


def _gguf_value(value_type: int, value: Any, order: str) -> bytes:
    if value_type == GGUF_STRING:
        return _gguf_string(value, order)
    if value_type == GGUF_ARRAY:
        item_type, items = value
        body = b"".join(_gguf_value(item_type, item, order) for item in items)
        return struct.pack(order[0] + "I", item_type) + struct.pack(order, len(items)) + body
    formats = {GGUF_UINT32: "I", GGUF_FLOAT32: "f", GGUF_BOOL: "?", GGUF_UINT64: "Q"}
    return struct.pack(f"{order[0]}{formats[value_type]}", value)


def gguf_bytes(
    metadata: Sequence[tuple[str, int, Any]],
    *,
    version: int = 3,
    big_endian: bool = False,
    tensor: bool = True,
    kv_count: int | None = None,
) -> bytes:
    """A GGUF file, built by hand following the GGUF specification (v2/v3)::

        "GGUF" | version u32 | tensor_count u64 | kv_count u64
        kv_count x (key: u64 length + UTF-8 | value_type u32 | value)
            string value: u64 length + bytes;  array: item_type u32 + u64 count + items
        tensor_count x (name string | n_dims u32 | n_dims x u64 | ggml_type u32 | offset u64)
        padding to 32 bytes (general.alignment) | tensor data

    ``metadata`` is ``(key, value_type, value)``; array values are ``(item_type, items)``.
    With ``tensor`` one 2x2 float32 tensor follows. ``kv_count`` overrides the count written.
    Version 1 writes counts and lengths as u32."""
    endian = ">" if big_endian else "<"
    order = endian + ("I" if version == 1 else "Q")
    count = len(metadata) if kv_count is None else kv_count
    parts = [
        b"GGUF",
        struct.pack(endian + "I", version),
        struct.pack(order, 1 if tensor else 0),
        struct.pack(order, count),
    ]
    for key, value_type, value in metadata:
        parts.append(
            _gguf_string(key, order) + struct.pack(endian + "I", value_type) + _gguf_value(value_type, value, order)
        )
    if tensor:
        parts.append(_gguf_string("token_embd.weight", order) + struct.pack(f"{endian}IQQIQ", 2, 2, 2, 0, 0))
    data = b"".join(parts)
    if tensor:
        data += b"\x00" * (-len(data) % 32) + struct.pack(f"{endian}4f", 1.0, 2.0, 3.0, 4.0)
    return data


def llama_metadata(chat_template: str | None, **extra_templates: str) -> list[tuple[str, int, Any]]:
    """Metadata like a converted llama model's: architecture, counts, a token list, and the chat
    template(s) (``extra_templates`` become ``tokenizer.chat_template.<name>``)."""
    metadata: list[tuple[str, int, Any]] = [
        ("general.architecture", GGUF_STRING, "llama"),
        ("general.name", GGUF_STRING, "tiny"),
        ("llama.context_length", GGUF_UINT32, 2048),
        ("llama.rope.freq_base", GGUF_FLOAT32, 10000.0),
        ("general.alignment", GGUF_UINT32, 32),
        ("tokenizer.ggml.model", GGUF_STRING, "gpt2"),
        ("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, ["<s>", "</s>", "hello", "world", "\u2581the"])),
        ("tokenizer.ggml.token_type", GGUF_ARRAY, (GGUF_UINT32, [3, 3, 1, 1, 1])),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, True),
        ("tokenizer.ggml.bos_token_id", GGUF_UINT32, 0),
    ]
    if chat_template is not None:
        metadata.append(("tokenizer.chat_template", GGUF_STRING, chat_template))
    for name, template in extra_templates.items():
        metadata.append((f"tokenizer.chat_template.{name}", GGUF_STRING, template))
    metadata.append(("general.file_type", GGUF_UINT32, 0))
    return metadata


def write_gguf(path: Path, chat_template: str | None = NORMAL_CHAT_TEMPLATE, **kwargs: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gguf_bytes(llama_metadata(chat_template), **kwargs))
    return path


def write_real_gguf(path: Path, chat_template: str) -> Path:
    """A GGUF file written by gguf-py's GGUFWriter (llama.cpp's own writer)."""
    import gguf
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_context_length(2048)
    writer.add_token_list(["<s>", "</s>", "hello"])
    writer.add_chat_template(chat_template)
    writer.add_tensor("token_embd.weight", np.ones((2, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --------------------------------------------------------------------------------------------
# Protobuf (ONNX, SavedModel)
# --------------------------------------------------------------------------------------------


def pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_int(field: int, value: int) -> bytes:
    """A varint field."""
    return pb_varint(field << 3) + pb_varint(value)


def pb_bytes(field: int, value: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or an embedded message)."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def node_def(name: str, op: str, inputs: Sequence[str] = ()) -> bytes:
    """A tensorflow.NodeDef: name 1, op 2, input 3, attr 5 (an empty 'T' entry, skipped)."""
    return (
        pb_bytes(1, name)
        + pb_bytes(2, op)
        + b"".join(pb_bytes(3, item) for item in inputs)
        + pb_bytes(5, pb_bytes(1, "T"))
    )


def saved_model_bytes(
    nodes: Sequence[tuple[str, str]],
    functions: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    schema_version: int | None = 1,
) -> bytes:
    """A tensorflow.SavedModel: saved_model_schema_version 1, meta_graphs 2 > MetaGraphDef
    (meta_info_def 1 with the 'serve' tag, graph_def 2 > GraphDef (node 1, library 2 >
    FunctionDefLibrary.function 1 > FunctionDef (signature 1 > OpDef.name 1, node_def 3),
    versions 4), saver_def 3). ``nodes`` and function bodies are ``(name, op)``."""
    graph = b"".join(pb_bytes(1, node_def(name, op)) for name, op in nodes)
    if functions:
        library = b""
        for function, body in functions.items():
            definition = pb_bytes(1, pb_bytes(1, function)) + b"".join(pb_bytes(3, node_def(n, o)) for n, o in body)
            library += pb_bytes(1, definition)
        graph += pb_bytes(2, library)
    graph += pb_bytes(4, pb_int(1, 1808))
    meta_info = pb_bytes(4, "serve") + pb_bytes(5, "2.21.0")
    meta_graph = pb_bytes(1, meta_info) + pb_bytes(2, graph) + pb_bytes(3, pb_bytes(1, "save/Const:0"))
    head = pb_int(1, schema_version) if schema_version is not None else b""
    return head + pb_bytes(2, meta_graph)


def write_saved_model(folder: Path, nodes: Sequence[tuple[str, str]], **kwargs: Any) -> Path:
    """``folder/saved_model.pb`` plus the empty variables/ folder of a SavedModel layout."""
    folder = Path(folder)
    (folder / "variables").mkdir(parents=True, exist_ok=True)
    path = folder / "saved_model.pb"
    path.write_bytes(saved_model_bytes(nodes, **kwargs))
    return path


STANDARD_NODES = [
    ("x", "Placeholder"),
    ("dense/kernel", "VarHandleOp"),
    ("dense/MatMul", "MatMul"),
    ("dense/Relu", "Relu"),
    ("saver_filename", "Placeholder"),
    ("StatefulPartitionedCall", "StatefulPartitionedCall"),
    ("save/SaveV2", "SaveV2"),
    ("save/RestoreV2", "RestoreV2"),
    ("save/MergeV2Checkpoints", "MergeV2Checkpoints"),
]


def onnx_tensor_bytes(name: str, location: str | None, raw: bytes = b"") -> bytes:
    """An onnx.TensorProto: dims 1, data_type 2 (1 = FLOAT), name 8, raw_data 9, and when
    ``location`` is given external_data 13 (location, offset, length) and data_location 14."""
    tensor = pb_int(1, 2) + pb_int(2, 1) + pb_bytes(8, name)
    if location is None:
        return tensor + pb_bytes(9, raw or b"\x00" * 8)
    entries = [("location", location), ("offset", "0"), ("length", "8")]
    tensor += b"".join(pb_bytes(13, pb_bytes(1, key) + pb_bytes(2, value)) for key, value in entries)
    return tensor + pb_int(14, 1)


def onnx_model_bytes(initializers: Sequence[bytes], constant: bytes | None = None) -> bytes:
    """An onnx.ModelProto built by hand: ir_version 1, producer_name 2, graph 7 (node 1 with an
    attribute 5 holding tensor t 5 when ``constant`` is given, name 2, initializer 5), opset 8."""
    graph = b""
    if constant is not None:
        attribute = pb_bytes(1, "value") + pb_bytes(5, constant) + pb_int(20, 4)
        graph += pb_bytes(1, pb_bytes(2, "c") + pb_bytes(3, "const") + pb_bytes(4, "Constant") + pb_bytes(5, attribute))
    graph += pb_bytes(2, "g") + b"".join(pb_bytes(5, tensor) for tensor in initializers)
    return pb_int(1, 9) + pb_bytes(2, "hand") + pb_bytes(7, graph) + pb_bytes(8, pb_int(2, 17))


def write_real_onnx(path: Path, location: str | None, data_file: bool = True) -> Path:
    """A real ONNX model (onnx.helper): Y = X + W, with W stored as external data at ``location``
    (written next to the model when ``data_file``), or embedded when ``location`` is None."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnx.external_data_helper import set_external_data

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weight = numpy_helper.from_array(np.arange(4, dtype=np.float32), name="W")
    if location is not None:
        if data_file:
            (path.parent / location).parent.mkdir(parents=True, exist_ok=True)
            (path.parent / location).write_bytes(weight.raw_data)
        set_external_data(weight, location=location, offset=0, length=len(weight.raw_data))
        weight.ClearField("raw_data")
        weight.data_location = TensorProto.EXTERNAL
    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Y"], name="add")],
        "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])],
        initializer=[weight],
    )
    model = helper.make_model(graph, producer_name="pytest-aisupply-tests", opset_imports=[helper.make_opsetid("", 17)])
    if location is None:
        onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path
