"""sentence-transformers, diffusers, peft, datasets, torch.hub, timm, open_clip, llama-cpp, vLLM."""

import datasets
import open_clip
import timm
import torch
import torch.nn as nn
from datasets import load_dataset as ld
from diffusers import DiffusionPipeline, StableDiffusionPipeline
from huggingface_hub import PyTorchModelHubMixin
from llama_cpp import Llama
from peft import PeftModel
from sentence_transformers import CrossEncoder, SentenceTransformer
from vllm import LLM

SHA = "0123456789abcdef0123456789abcdef01234567"
base = None

SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")  # expect: pinned-revision
SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", revision=SHA)  # expect: ok
CrossEncoder("cross-encoder/ms-marco-MiniLM-L-6-v2", revision="main")  # expect: pinned-revision
DiffusionPipeline.from_pretrained("org/sd", revision=SHA)  # expect: ok
DiffusionPipeline.from_pretrained("org/sd", revision=SHA, custom_pipeline="lpw_stable_diffusion")  # expect: remote-code
StableDiffusionPipeline.from_pretrained("org/sd")  # expect: pinned-revision
PeftModel.from_pretrained(base, "org/adapter")  # expect: pinned-revision
PeftModel.from_pretrained(base, "org/adapter", revision=SHA)  # expect: ok
PeftModel.from_pretrained(base, model_id="org/adapter", revision="v2")  # expect: pinned-revision
datasets.load_dataset("org/data")  # expect: pinned-revision
ld("org/data", revision=SHA)  # expect: ok
ld("csv", data_files="train.csv")  # expect: ok
ld("org/script-data", revision=SHA, trust_remote_code=True)  # expect: remote-code
torch.hub.load("pytorch/vision", "resnet18")  # expect: pinned-revision
torch.hub.load("pytorch/vision:v0.10.0", "resnet18")  # expect: pinned-revision
torch.hub.load(f"pytorch/vision:{SHA}", "resnet18")  # expect: ok
torch.hub.load("./hubconf_dir", "model", source="local")  # expect: ok
timm.create_model("resnet50", pretrained=True)  # expect: pinned-revision
timm.create_model("resnet50")  # expect: ok
timm.create_model("hf-hub:timm/vit_base_patch16_224.augreg_in21k", pretrained=True)  # expect: pinned-revision
open_clip.create_model_and_transforms("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")  # expect: pinned-revision
open_clip.create_model_and_transforms("ViT-B-32")  # expect: ok
Llama.from_pretrained(repo_id="org/gguf", filename="*q4_0.gguf")  # expect: pinned-revision
LLM(model="org/llm")  # expect: pinned-revision
LLM(model="org/llm", revision=SHA)  # expect: ok


class MyModel(nn.Module, PyTorchModelHubMixin):
    pass


MyModel.from_pretrained("org/mixin")  # expect: pinned-revision
MyModel.from_pretrained("org/mixin", revision=SHA)  # expect: ok
