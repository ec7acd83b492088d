"""huggingface_hub downloads, HfApi methods and hf:// paths."""

import os

import huggingface_hub as hh
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download, snapshot_download
from huggingface_hub import hf_hub_download as dl

SHA = "0123456789abcdef0123456789abcdef01234567"
REPO_FROM_ENV = os.environ.get("MODEL_REPO", "org/model")

hf_hub_download("org/model", "model.safetensors")  # expect: pinned-revision
hf_hub_download("org/model", "model.safetensors", revision=SHA)  # expect: ok
hf_hub_download(repo_id="org/data", filename="x.csv", repo_type="dataset", revision="main")  # expect: pinned-revision
dl("org/model", filename="config.json", revision=SHA)  # expect: ok
snapshot_download("org/model")  # expect: pinned-revision
snapshot_download(repo_id="org/model", revision=SHA)  # expect: ok
hh.snapshot_download("org/model", revision="abc1234")  # expect: pinned-revision
hh.hf_hub_download("org/model", "f.bin", revision=SHA)  # expect: ok
api = HfApi()
api.hf_hub_download("org/model", "f", revision=SHA)  # expect: ok
api.snapshot_download("org/model")  # expect: pinned-revision
HfApi().hf_hub_download(repo_id="org/model", filename="f")  # expect: pinned-revision
fs = HfFileSystem()
fs.open(f"hf://org/model@{SHA}/config.json")  # expect: ok
fs.open("hf://org/model/config.json")  # expect: pinned-revision
fs.ls("hf://datasets/org/data@main/train")  # expect: pinned-revision
hf_hub_download(REPO_FROM_ENV, "f")  # expect: pinned-revision
hf_hub_download(REPO_FROM_ENV, "f", revision=SHA)  # expect: ok
DYNAMIC = os.environ.get("DATASET", "org/data")
fs.open(f"hf://datasets/{DYNAMIC}/train.csv")  # expect: pinned-revision
str.startswith(REPO_FROM_ENV, "hf://datasets/")  # expect: ok
