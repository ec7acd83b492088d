"""Values through assignments, branches and loops; local folders known as local. Verdicts in comments."""

import argparse
import os
import tempfile
from pathlib import Path

import torch
from optimum.onnxruntime import ORTModel, ORTQuantizer
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER_SHA = "89abcdef0123456789abcdef0123456789abcdef"


def revision_from_branch(args, safe):
    rev = args.revision
    if safe:
        rev = SHA
    return AutoModelForCausalLM.from_pretrained("org/model", revision=rev)  # expect: pinned-revision


def revision_on_every_path(flag):
    if flag:
        rev = SHA
    else:
        rev = OTHER_SHA
    return AutoModelForCausalLM.from_pretrained("org/model", revision=rev)  # expect: ok


def revision_overwritten_before_use():
    rev = "main"
    rev = SHA
    return AutoModelForCausalLM.from_pretrained("org/model", revision=rev)  # expect: ok


def revision_after_early_return(flag):
    rev = "main"
    if flag:
        return None
    rev = SHA
    return AutoModelForCausalLM.from_pretrained("org/model", revision=rev)  # expect: ok


def revision_changed_in_loop(names):
    rev = SHA
    for name in names:
        AutoTokenizer.from_pretrained("org/model", revision=rev)  # expect: pinned-revision
        rev = "main"


def revision_from_conditional_expression(dev):
    return AutoTokenizer.from_pretrained("org/model", revision="main" if dev else SHA)  # expect: pinned-revision


def repos_from_a_literal_loop():
    for name in ("org/first", "org/second"):
        AutoTokenizer.from_pretrained(name, revision=SHA)  # expect: ok
    for name in ("org/first", "org/second"):
        AutoTokenizer.from_pretrained(name)  # expect: pinned-revision


def train_then_reload(model, tokenizer):
    model.save_pretrained("finetuned-model")
    tokenizer.save_pretrained("finetuned-model")
    AutoModelForCausalLM.from_pretrained("finetuned-model")  # expect: ok
    out = "merged"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(out)  # expect: ok
    AutoTokenizer.from_pretrained("never-written")  # expect: pinned-revision


def push_then_reload(model_checkpoint, callback_class):
    model_name = model_checkpoint.split("/")[-1]
    callback_class(output_dir=f"{model_name}-finetuned-imdb")
    AutoModelForCausalLM.from_pretrained("distilbert-base-uncased-finetuned-imdb")  # expect: ok
    AutoModelForCausalLM.from_pretrained("org/distilbert-base-uncased-finetuned-imdb")  # expect: pinned-revision


def placeholders():
    AutoModelForCausalLM.from_pretrained("INSERT MODEL PATH HERE/text_encoder")  # expect: ok
    checkpoint = ""
    AutoTokenizer.from_pretrained(checkpoint)  # expect: ok


def fit_then_reload(model, objectives, name):
    path = "output/bi-encoder-" + name
    model.fit(train_objectives=objectives, output_path=path)
    return AutoTokenizer.from_pretrained(path)  # expect: ok


def typed_values(model: "PreTrainedModel", folder: Path, name: str, other: str | Path):
    onnx_model: ORTModel = model.onnx
    ORTQuantizer.from_pretrained(onnx_model)  # expect: ok
    AutoModelForCausalLM.from_pretrained(folder)  # expect: ok
    AutoModelForCausalLM.from_pretrained(name)  # expect: pinned-revision
    AutoModelForCausalLM.from_pretrained(other)  # expect: pinned-revision
    AutoModelForCausalLM.from_pretrained(model)  # expect: pinned-revision
    AutoModelForCausalLM.from_pretrained(onnx_model.config.name_or_path)  # expect: pinned-revision


def reload_before_writing(model):
    AutoModelForCausalLM.from_pretrained("written-later")  # expect: pinned-revision
    model.save_pretrained("written-later")


def trainer_output(model, data):
    training_args = TrainingArguments(output_dir="sft-out")
    Trainer(model=model, args=training_args, train_dataset=data).train()
    AutoModelForCausalLM.from_pretrained("sft-out")  # expect: ok
    AutoModelForCausalLM.from_pretrained(training_args.output_dir)  # expect: ok


def paths_and_temporary_folders(root):
    folder = Path(root) / "model"
    AutoModelForCausalLM.from_pretrained(folder)  # expect: ok
    joined = os.path.join(root, "model")
    AutoModelForCausalLM.from_pretrained(joined)  # expect: ok
    AutoModelForCausalLM.from_pretrained(str(folder.resolve()))  # expect: ok
    with tempfile.TemporaryDirectory() as tmp:
        AutoModelForCausalLM.from_pretrained(tmp)  # expect: ok
        AutoModelForCausalLM.from_pretrained(f"{tmp}/checkpoint-1")  # expect: ok
    scratch = tempfile.mkdtemp()
    AutoTokenizer.from_pretrained(scratch)  # expect: ok
    repo = "/".join(["org", "model"])
    AutoTokenizer.from_pretrained(repo)  # expect: pinned-revision


def load_model_hook(models, input_dir):
    AutoModelForCausalLM.from_pretrained(input_dir, subfolder="unet")  # expect: ok


def model_fn(model_dir):
    return AutoModelForCausalLM.from_pretrained(model_dir)  # expect: ok


def some_function(model_dir_or_repo):
    return AutoModelForCausalLM.from_pretrained(model_dir_or_repo)  # expect: pinned-revision


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="org/model")
    parser.add_argument("--revision", default=SHA, choices=[SHA, OTHER_SHA])
    parser.add_argument("--tokenizer-revision", default=SHA)
    parser.add_argument("--branch", default=SHA, choices=[SHA, "main"])
    parser.add_argument("--output_dir", default="out")
    args = parser.parse_args()
    AutoModelForCausalLM.from_pretrained(args.model, revision=args.revision)  # expect: ok
    AutoTokenizer.from_pretrained(args.model, revision=args.tokenizer_revision)  # expect: pinned-revision
    AutoTokenizer.from_pretrained(args.model, revision=args.branch)  # expect: pinned-revision
    AutoModelForCausalLM.from_pretrained(args.output_dir)  # expect: ok
    state = torch.load(os.path.join(args.output_dir, "optimizer.pt"))  # expect: unsafe-load
    return state
