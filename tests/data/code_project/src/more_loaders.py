"""Loaders and forms found on real repositories: PEFT, timm, open_clip, diffusers, raw URLs, evaluate."""

import subprocess
import urllib.request

import evaluate
import open_clip
import requests
import torch
from datasets import load_dataset, load_dataset_builder, load_metric
from diffusers import StableDiffusionPipeline
from peft import AutoPeftModelForCausalLM, PeftConfig, PeftModel
from sentence_transformers import SentenceTransformer
from timm.models import create_model
from mypackage.factory import encoder_class
from mypackage.models import LocalModel
from transformers import AutoModelForCausalLM

from .modeling import ProjectEncoder

SHA = "0123456789abcdef0123456789abcdef01234567"
base = None
config_name = input()

PeftConfig.from_pretrained("org/lora-adapter")  # expect: pinned-revision
PeftConfig.from_pretrained("org/lora-adapter", revision=SHA)  # expect: ok
AutoPeftModelForCausalLM.from_pretrained("org/lora-adapter", revision=SHA)  # expect: ok
AutoPeftModelForCausalLM.from_pretrained("org/lora-adapter", revision=SHA, trust_remote_code=True)  # expect: remote-code
PeftModel.from_pretrained(base, "org/lora-adapter", revision=SHA)  # expect: ok
create_model("hf-hub:timm/vit_base_patch16_224.augreg_in21k", pretrained=True)  # expect: pinned-revision
create_model(f"hf-hub:timm/vit_base_patch16_224.augreg_in21k@{SHA}", pretrained=True)  # expect: ok
create_model("hf-hub:timm/vit_base_patch16_224.augreg_in21k@main", pretrained=True)  # expect: pinned-revision
create_model("resnet50", pretrained=False)  # expect: ok
open_clip.create_model_and_transforms("ViT-B-32", "laion2b_s34b_b79k")  # expect: pinned-revision
open_clip.create_model_and_transforms("ViT-B-32", pretrained="laion2b_s34b_b79k")  # expect: pinned-revision
open_clip.create_model_and_transforms("ViT-B-32", None)  # expect: ok
open_clip.create_model("ViT-B-32", pretrained="checkpoints/epoch_32.pt")  # expect: ok


def convert_and_reload(tmp_path):
    checkpoint_path = tmp_path / "open_clip_model.safetensors"
    return open_clip.create_model("test-naflex-siglip2", pretrained=str(checkpoint_path))  # expect: ok


load_dataset("parquet", data_files={"train": "hf://datasets/org/data/train.parquet"})  # expect: pinned-revision
load_dataset("parquet", data_files={"train": f"hf://datasets/org/data@{SHA}/train.parquet"})  # expect: ok
load_dataset("json", data_files=["hf://datasets/org/data@main/a.json"])  # expect: pinned-revision
load_dataset("parquet", data_files={"test": "hf://datasets/org/data@refs/convert/parquet/t/0.parquet"})  # expect: pinned-revision
load_dataset_builder("org/data")  # expect: pinned-revision
load_dataset_builder("org/data", revision=SHA)  # expect: ok
load_dataset_builder("org/scripted", trust_remote_code=True)  # expect: pinned-revision, remote-code
load_metric("glue", "mrpc")  # expect: remote-code
evaluate.load("accuracy")  # expect: pinned-revision, remote-code
evaluate.load("accuracy", revision=SHA)  # expect: remote-code
evaluate.load("./metrics/my_metric.py")  # expect: ok
evaluate.load("trusted/metric", revision=SHA)  # expect: ok
evaluate.load("trusted/metric")  # expect: pinned-revision, remote-code
evaluate.load("exact_match", module_type="comparison", revision=SHA)  # expect: remote-code
SentenceTransformer("all-MiniLM-L6-v2")  # expect: pinned-revision


def load_anything(*args, **kwargs):
    return AutoModelForCausalLM.from_pretrained(*args, **kwargs)  # expect: pinned-revision


def load_weights(path, **kwargs):
    return torch.load(path, **kwargs)  # expect: unsafe-load


def load_weights_pinned(path, **kwargs):
    return torch.load(path, weights_only=True, **kwargs)  # expect: ok


class MyEncoder(ProjectEncoder):
    pass


ProjectEncoder.from_pretrained("org/encoder")  # expect: pinned-revision
ProjectEncoder.from_pretrained("org/encoder", revision=SHA)  # expect: ok
MyEncoder.from_pretrained("org/encoder")  # expect: pinned-revision
encoder_class("bert").from_pretrained("org/encoder")  # expect: pinned-revision
LocalModel.from_pretrained("org/encoder", revision=SHA)  # expect: ok
LocalModel.from_pretrained("checkpoints/local")  # expect: ok
LocalModel.from_pretrained(config_name)  # expect: ok
torch.hub.load_state_dict_from_url("https://download.pytorch.org/models/resnet18.pth")  # expect: unsafe-load
torch.hub.load_state_dict_from_url("https://example.com/r.pth", weights_only=True)  # expect: ok
pipe = StableDiffusionPipeline.from_pretrained("org/sd", revision=SHA)  # expect: ok
pipe.load_lora_weights("org/lora")  # expect: pinned-revision
pipe.load_lora_weights("org/lora", revision=SHA)  # expect: ok
pipe.load_lora_weights("./loras", weight_name="style.safetensors")  # expect: ok
pipe.load_lora_weights({"unet.weight": None})  # expect: ok
StableDiffusionPipeline.from_single_file("https://huggingface.co/org/sd/blob/main/m.safetensors")  # expect: pinned-revision
StableDiffusionPipeline.from_single_file(f"https://huggingface.co/org/sd/blob/{SHA}/m.safetensors")  # expect: ok
StableDiffusionPipeline.from_single_file("./checkpoints/model.safetensors")  # expect: ok
model = AutoModelForCausalLM.from_pretrained("org/base", revision=SHA)  # expect: ok
model.load_adapter("org/adapter")  # expect: pinned-revision
model.load_adapter("org/adapter", revision=SHA)  # expect: ok
URL = "https://huggingface.co/org/model/resolve/main/config.json"  # expect: pinned-revision
PINNED_URL = f"https://huggingface.co/org/model/resolve/{SHA}/config.json"  # expect: ok
urllib.request.urlretrieve(URL, "config.json")  # expect: ok
requests.get("https://huggingface.co/datasets/org/data/resolve/main/train.csv", timeout=10)  # expect: pinned-revision
requests.get("https://huggingface.co/docs/hub/index", timeout=10)  # expect: ok
DESCRIPTION = "<img src='https://huggingface.co/org/space/resolve/main/logo.png'>"  # expect: ok


def load_split(streaming, name):
    if streaming:
        loader = load_streaming
    else:
        loader = load_dataset
    return loader(name)  # expect: pinned-revision


def load_streaming(name):
    return name


def finetune_and_reload():
    subprocess.run(["python", "train_text_to_image.py", "--output_dir", "sd-finetuned-model"], check=True)
    StableDiffusionPipeline.from_pretrained("sd-finetuned-model")  # expect: ok
    StableDiffusionPipeline.from_pretrained("path-to-your-trained-model")  # expect: ok
    StableDiffusionPipeline.from_pretrained("your-username/your-model")  # expect: pinned-revision


def test_adapter_round_trip(model, tmp_path, tmpdir):
    model.load_adapter(str(tmp_path), adapter_name="default")  # expect: ok
    PeftModel.from_pretrained(model, str(tmpdir))  # expect: ok
    PeftModel.from_pretrained(model, str(tmp_path / "other"), adapter_name="other")  # expect: ok


class MixedAdapters(PeftModel):
    def load_adapter(self, model_id, adapter_name, *args, **kwargs):
        PeftModel.load_adapter(self, "org/pinned-adapter", adapter_name, revision=SHA)  # expect: ok
        PeftModel.load_adapter(self, "./adapters/local", adapter_name)  # expect: ok
        return PeftModel.load_adapter(self, model_id, adapter_name, *args, **kwargs)  # expect: pinned-revision
