"""The loader table: one test per library behaviour it mirrors (the row's docstring cites the library code)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_aisupply.code.references import extract
from pytest_aisupply.hub.loads import UNKNOWN, LoadCall, files_loaded, load_call

BERT = {"config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "README.md"}


def reader(documents: dict[str, Any]) -> Any:
    def read_json(path: str) -> Any:
        return json.loads(json.dumps(documents[path]))

    return read_json


def loads(api: str, files: set[str], documents: dict[str, Any] | None = None, **options: object) -> tuple[str, ...]:
    return files_loaded(LoadCall(api, options), files, reader(documents or {})).files


def test_transformers_prefers_safetensors() -> None:
    assert loads("transformers.AutoModel.from_pretrained", BERT) == ("model.safetensors",)


def test_transformers_use_safetensors_false_loads_the_bin() -> None:
    assert loads("transformers.AutoModel.from_pretrained", BERT, use_safetensors=False) == ("pytorch_model.bin",)


def test_transformers_without_safetensors_loads_the_bin() -> None:
    assert loads("transformers.AutoModel.from_pretrained", BERT - {"model.safetensors"}) == ("pytorch_model.bin",)


def test_transformers_sharded_safetensors_follow_the_index() -> None:
    files = {"model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    files |= {"pytorch_model.bin"}
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    assert loads("transformers.AutoModel.from_pretrained", files, {"model.safetensors.index.json": index}) == (
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    )


def test_transformers_index_naming_a_missing_shard_is_a_problem() -> None:
    files = {"model.safetensors.index.json", "model-00001-of-00002.safetensors"}
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    plan = files_loaded(
        LoadCall("transformers.AutoModel.from_pretrained"), files, reader({"model.safetensors.index.json": index})
    )
    assert plan.problems == (
        "model.safetensors.index.json names model-00002-of-00002.safetensors, which is not in the commit",
    )


def test_transformers_sharded_bin_without_the_index_content_takes_every_shard_name() -> None:
    files = {"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}
    plan = files_loaded(LoadCall("transformers.AutoModel.from_pretrained"), files, None)
    assert plan.files == ("pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin")


def test_transformers_variant() -> None:
    files = BERT | {"model.fp16.safetensors"}
    assert loads("transformers.AutoModel.from_pretrained", files, variant="fp16") == ("model.fp16.safetensors",)


def test_transformers_from_tf_and_from_flax() -> None:
    assert loads("transformers.TFAutoModel.from_pretrained", BERT, from_tf=True) == ("tf_model.h5",)
    assert loads("transformers.AutoModel.from_pretrained", BERT, from_flax=True) == ("flax_model.msgpack",)


def test_transformers_gguf_file() -> None:
    files = {"q4.gguf", "q8.gguf", "model.safetensors"}
    assert loads("transformers.AutoModelForCausalLM.from_pretrained", files, gguf_file="q8.gguf") == ("q8.gguf",)


def test_sentence_transformers_modules_json() -> None:
    files = {
        "modules.json",
        "model.safetensors",
        "pytorch_model.bin",
        "2_Dense/pytorch_model.bin",
        "1_Pooling/config.json",
    }
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    assert loads("sentence_transformers.SentenceTransformer", files, {"modules.json": modules}) == (
        "2_Dense/pytorch_model.bin",
        "model.safetensors",
    )


def test_diffusers_pipeline_components_and_variant() -> None:
    files = {
        "model_index.json",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/diffusion_pytorch_model.bin",
        "text_encoder/model.safetensors",
        "text_encoder/pytorch_model.bin",
        "safety_checker/pytorch_model.bin",
    }
    index = {
        "_class_name": "StableDiffusionPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    }
    documents = {"model_index.json": index}
    assert loads("diffusers.DiffusionPipeline.from_pretrained", files, documents) == (
        "safety_checker/pytorch_model.bin",
        "text_encoder/model.safetensors",
        "unet/diffusion_pytorch_model.safetensors",
    )
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in loads(
        "diffusers.DiffusionPipeline.from_pretrained", files, documents, variant="fp16"
    )
    assert loads("diffusers.DiffusionPipeline.from_pretrained", files, documents, use_safetensors=False) == (
        "safety_checker/pytorch_model.bin",
        "text_encoder/pytorch_model.bin",
        "unet/diffusion_pytorch_model.bin",
    )


def test_peft_adapter() -> None:
    files = {"adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"}
    assert loads("peft.PeftModel.from_pretrained", files) == ("adapter_model.safetensors",)
    assert loads("peft.PeftModel.from_pretrained", files - {"adapter_model.safetensors"}) == ("adapter_model.bin",)


def test_hf_hub_download_loads_the_named_file_only() -> None:
    files = {"model.safetensors", "pytorch_model.bin"}
    assert loads("huggingface_hub.hf_hub_download", files, filename="pytorch_model.bin") == ("pytorch_model.bin",)


def test_snapshot_download_patterns() -> None:
    files = {"model.safetensors", "pytorch_model.bin", "onnx/model.onnx", "config.json"}
    assert loads("huggingface_hub.snapshot_download", files, allow_patterns=["*.safetensors", "onnx/"]) == (
        "model.safetensors",
        "onnx/model.onnx",
    )
    assert loads("huggingface_hub.snapshot_download", files, ignore_patterns="*.bin") == (
        "model.safetensors",
        "onnx/model.onnx",
    )


def test_timm_and_open_clip() -> None:
    assert loads("timm.create_model", {"model.safetensors", "pytorch_model.bin"}) == ("model.safetensors",)
    assert loads("timm.create_model", {"pytorch_model.bin"}) == ("pytorch_model.bin",)
    clip = {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"}
    assert loads("open_clip.create_model_and_transforms", clip) == ("open_clip_model.safetensors",)


def test_llama_cpp_filename_pattern() -> None:
    files = {"m-Q4_K_M.gguf", "m-Q8_0.gguf"}
    assert loads("llama_cpp.Llama.from_pretrained", files, filename="*Q4_K_M.gguf") == ("m-Q4_K_M.gguf",)
    assert loads("llama_cpp.Llama.from_pretrained", files, filename="*.gguf") == ()  # ambiguous: the call raises


def test_datasets_data_files_and_loading_script() -> None:
    files = {"data/train-00000.parquet", "data/test.parquet", "my_dataset.py", "README.md"}
    plan = files_loaded(LoadCall("datasets.load_dataset", {"data_files": "data/train-*"}), files)
    assert plan.files == ("data/train-00000.parquet",)
    assert plan.problems == ("my_dataset.py is a loading script: remote code (datasets 5.x refuses it)",)


@pytest.mark.parametrize(
    "call",
    [LoadCall("somelib.load"), LoadCall("transformers.AutoModel.from_pretrained", {"variant": UNKNOWN})],
    ids=["unknown-loader", "option-known-at-run-time"],
)
def test_what_cannot_be_decided_is_every_weight_like_file(call: LoadCall) -> None:
    plan = files_loaded(call, {"model.safetensors", "pytorch_model.bin", "config.json", "README.md"})
    assert plan.files == ("model.safetensors", "pytorch_model.bin")
    assert not plan.decided


def test_calls_come_from_the_code_references() -> None:
    facts = extract(
        "from transformers import AutoModel\n"
        "AutoModel.from_pretrained('org/m', revision='" + "a" * 40 + "', use_safetensors=False)\n",
        "serve.py",
    )
    (reference,) = facts.references
    plan = files_loaded(load_call(reference), BERT)
    assert plan.files == ("pytorch_model.bin",)


# -- the keywords come from the code --------------------------------------------------------------

SHA = "a" * 40
SAFE_AND_BIN = {"model.safetensors", "pytorch_model.bin", "config.json", "model-Q4.gguf", "model-Q8.gguf"}


def plan_of(code: str, files: set[str] = SAFE_AND_BIN) -> Any:
    facts = extract(
        "from huggingface_hub import hf_hub_download, snapshot_download\n"
        "from transformers import AutoModel\nfrom llama_cpp import Llama\n"
        "from diffusers import DiffusionPipeline\n" + code + "\n",
        "serve.py",
    )
    (reference,) = facts.references
    return files_loaded(load_call(reference), files)


@pytest.mark.parametrize(
    ("code", "loaded"),
    [
        (f"hf_hub_download('org/m', 'model.safetensors', revision='{SHA}')", ("model.safetensors",)),
        (f"hf_hub_download(repo_id='org/m', filename='pytorch_model.bin', revision='{SHA}')", ("pytorch_model.bin",)),
        (f"hf_hub_download('org/m', 'model.safetensors', subfolder='v2', revision='{SHA}')", ("v2/model.safetensors",)),
        (f"name = 'config.json'\nhf_hub_download('org/m', name, revision='{SHA}')", ("config.json",)),
        (
            f"snapshot_download('org/m', revision='{SHA}', allow_patterns=['*.json', '*.safetensors'])",
            ("model.safetensors",),
        ),
        (
            f"snapshot_download('org/m', revision='{SHA}', ignore_patterns='*.bin')",
            ("model-Q4.gguf", "model-Q8.gguf", "model.safetensors"),
        ),
        ("Llama.from_pretrained('org/m', '*Q4.gguf')", ("model-Q4.gguf",)),
        ("Llama.from_pretrained(repo_id='org/m', filename='*Q8.gguf')", ("model-Q8.gguf",)),
        (f"AutoModel.from_pretrained('org/m', revision='{SHA}', gguf_file='model-Q8.gguf')", ("model-Q8.gguf",)),
        (f"AutoModel.from_pretrained('org/m', revision='{SHA}', use_safetensors=True)", ("model.safetensors",)),
    ],
)
def test_the_keywords_that_choose_files_come_from_the_code(code: str, loaded: tuple[str, ...]) -> None:
    plan = plan_of(code)
    assert plan.decided, plan.rule
    assert plan.files == loaded


@pytest.mark.parametrize(
    "code",
    [
        f"def f(name):\n    return hf_hub_download('org/m', name, revision='{SHA}')",
        f"def f(patterns):\n    return snapshot_download('org/m', revision='{SHA}', allow_patterns=patterns)",
        f"def f(p):\n    return snapshot_download('org/m', revision='{SHA}', allow_patterns=['*.json', p])",
        f"def f(**kw):\n    return AutoModel.from_pretrained('org/m', revision='{SHA}', **kw)",
        f"def f(v):\n    return AutoModel.from_pretrained('org/m', revision='{SHA}', variant=v)",
    ],
    ids=["filename-parameter", "patterns-parameter", "pattern-in-list", "double-star", "variant-parameter"],
)
def test_keywords_known_only_at_run_time_load_every_weight_like_file(code: str) -> None:
    plan = plan_of(code)
    assert not plan.decided
    assert plan.files == ("model-Q4.gguf", "model-Q8.gguf", "model.safetensors", "pytorch_model.bin")


FILE_LISTS = [
    ["model.safetensors", "pytorch_model.bin", "config.json", ".gitattributes", "README.md"],
    ["onnx/model.onnx", "onnx/sub/model.onnx", "onnx.json", "ONNX/upper.onnx", "a/b/c.bin", "weights\\odd.bin"],
    ["unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors", "vae/x.bin"],
    ["[abc].bin", "a.bin", "data/train-00000-of-00002.parquet", "data/.hidden", ".cache/x"],
]
PATTERNS: list[tuple[Any, Any]] = [
    (None, None),
    ("*.safetensors", None),
    (["*.json", "*.safetensors"], "*.bin"),
    ("onnx/", None),
    (None, ["onnx/", "*.md"]),
    ("*/model.onnx", None),
    ("onnx\\*", None),
    ("*.ONNX", None),
    ("[abc].bin", None),
    ("*fp16*", "vae/*"),
    ([], None),
    (None, []),
    ("data/*", ".*"),
    ("?.bin", "*/.*"),
]


@pytest.mark.parametrize(("allow", "ignore"), PATTERNS, ids=[repr(p) for p in PATTERNS])
def test_snapshot_patterns_match_huggingface_hub_filter_repo_objects(allow: Any, ignore: Any) -> None:
    """Differential: our selection == huggingface_hub's own ``filter_repo_objects`` on the same lists."""
    from huggingface_hub.utils import filter_repo_objects

    from pytest_aisupply.hub.loads import filter_repo_files

    for files in FILE_LISTS:
        ours = filter_repo_files(files, allow, ignore)
        theirs = list(filter_repo_objects(files, allow_patterns=allow, ignore_patterns=ignore))
        assert ours == theirs, (files, allow, ignore)


def test_lora_weight_name_and_llama_additional_files() -> None:
    files = {"pytorch_lora_weights.safetensors", "other.safetensors", "m-00001-of-00002.gguf", "m-00002-of-00002.gguf"}
    assert loads("load_lora_weights", files, weight_name="other.safetensors") == ("other.safetensors",)
    assert not files_loaded(LoadCall("load_lora_weights"), files).decided
    assert loads(
        "llama_cpp.Llama.from_pretrained", files, filename="*00001-of-*.gguf", additional_files=["*00002-of-*.gguf"]
    ) == ("m-00001-of-00002.gguf", "m-00002-of-00002.gguf")


def test_datasets_data_dir() -> None:
    files = {"en/train.parquet", "fr/train.parquet", "README.md"}
    assert loads("datasets.load_dataset", files, data_dir="fr") == ("fr/train.parquet",)
