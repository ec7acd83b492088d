"""transformers: from_pretrained and pipeline in every form. Expected verdicts are in comments."""

from pathlib import Path

import transformers
from transformers import AutoModel, AutoModelForCausalLM, pipeline
from transformers import AutoTokenizer as Tok
from transformers import pipeline as make_pipeline

SHA = "0123456789abcdef0123456789abcdef01234567"
MODEL = "org/model"
PINNED = {"rev": SHA}
ORG = "org"
loader = AutoModel

AutoModel.from_pretrained("bert-base-uncased")  # expect: pinned-revision
AutoModel.from_pretrained("bert-base-uncased", revision=SHA)  # expect: ok
Tok.from_pretrained(MODEL, revision="main")  # expect: pinned-revision
transformers.AutoConfig.from_pretrained(MODEL, revision="0123456")  # expect: pinned-revision
transformers.AutoConfig.from_pretrained(MODEL, revision=SHA.upper())  # expect: pinned-revision
AutoModel.from_pretrained(MODEL, revision="0123456789ABCDEF0123456789ABCDEF01234567")  # expect: pinned-revision
AutoModel.from_pretrained(MODEL, revision="refs/pr/1")  # expect: pinned-revision
AutoModel.from_pretrained(MODEL, revision="v1.0")  # expect: pinned-revision
AutoModel.from_pretrained(MODEL, revision=None)  # expect: pinned-revision
AutoModel.from_pretrained(pretrained_model_name_or_path=MODEL, revision=SHA)  # expect: ok
AutoModel.from_pretrained(f"{ORG}/model", revision=SHA)  # expect: ok
AutoModel.from_pretrained(ORG + "/model", revision=f"{SHA}")  # expect: ok
AutoModel.from_pretrained(MODEL, revision=PINNED["rev"])  # expect: pinned-revision
AutoModel.from_pretrained("./checkpoints/local")  # expect: ok
AutoModel.from_pretrained(Path("checkpoints") / "local")  # expect: ok
loader.from_pretrained(MODEL)  # expect: pinned-revision
loader.from_pretrained(MODEL, revision=SHA)  # expect: ok


def load_with_parameter(rev=SHA):
    return AutoModel.from_pretrained(MODEL, revision=rev)  # expect: pinned-revision


def load_with_local_constant():
    revision = SHA
    return AutoModelForCausalLM.from_pretrained(MODEL, revision=revision)  # expect: ok


def load_keyword_only(*, model_id: str = MODEL):
    return AutoModelForCausalLM.from_pretrained(model_id, revision=SHA)  # expect: ok


make_pipeline("text-classification", model=MODEL)  # expect: pinned-revision
pipeline("text-classification", MODEL, revision=SHA)  # expect: ok
pipeline(task="ner", model=MODEL, revision=f"{SHA}")  # expect: ok
AutoModel.from_pretrained(MODEL, revision=SHA, use_safetensors=False)  # expect: unsafe-load
AutoModel.from_pretrained(MODEL, revision=SHA, trust_remote_code=True)  # expect: remote-code
AutoModel.from_pretrained("trusted/model", revision=SHA, trust_remote_code=True)  # expect: ok
AutoModel.from_pretrained("trusted/model", revision="main", trust_remote_code=True)  # expect: pinned-revision, remote-code
AutoModel.from_pretrained(  # expect: remote-code
    "trusted/model", revision=SHA, trust_remote_code=True, code_revision="main"
)
AutoModel.from_pretrained("org/ignored")  # aisupply: ignore[pinned-revision] vendored mirror, checked by hash
# expect-next: pinned-revision
AutoModel.from_pretrained("org/no-reason")  # aisupply: ignore[pinned-revision]


def load_with_kwargs(**kwargs):
    return AutoModel.from_pretrained(MODEL, **kwargs)  # expect: pinned-revision


def load_with_kwargs_and_revision(**kwargs):
    return AutoModel.from_pretrained(MODEL, revision=SHA, **kwargs)  # expect: ok
