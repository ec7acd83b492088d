"""A tiny serving module: one pinned model, one that follows main, and a pickle-based load."""

import torch
from transformers import AutoModel, AutoTokenizer

ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


def load():
    model = AutoModel.from_pretrained(ENCODER, revision=ENCODER_COMMIT)
    tokenizer = AutoTokenizer.from_pretrained(ENCODER)
    head = torch.load("models/head.pt")
    return model, tokenizer, head
