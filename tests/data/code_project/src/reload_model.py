"""Loads the folder export_model.py writes: a local folder, not a Hub repo."""

from sentence_transformers import SentenceTransformer

SentenceTransformer("output/exported-encoder")  # expect: ok
SentenceTransformer("output/never-exported")  # expect: pinned-revision
