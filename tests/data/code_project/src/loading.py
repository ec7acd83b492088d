"""Deserialisation with pickle semantics, and the safe forms next to it."""

import functools
import json
import pickle
import shelve
from pickle import loads as pl

import cloudpickle
import dill
import joblib
import numpy as np
import pandas as pd
import torch
import torch.serialization
from keras.models import load_model

with open("data.bin", "rb") as f:
    pickle.load(f)  # expect: unsafe-load
    pl(b"")  # expect: unsafe-load
    pickle.Unpickler(f).load()  # expect: unsafe-load
    cloudpickle.load(f)  # expect: unsafe-load
    json.load(f)  # expect: ok
joblib.load("model.joblib")  # expect: unsafe-load
np.load("a.npy")  # expect: ok
np.load("a.npy", allow_pickle=True)  # expect: unsafe-load
np.load("a.npy", allow_pickle=False)  # expect: ok
pd.read_pickle("frame.pkl")  # expect: unsafe-load
pd.read_parquet("frame.parquet")  # expect: ok
dill.loads(b"")  # expect: unsafe-load
shelve.open("db")  # expect: unsafe-load
torch.load("x.pt")  # expect: unsafe-load
torch.load("x.pt", weights_only=True)  # expect: ok
torch.load("x.pt", weights_only=False)  # expect: unsafe-load
torch.serialization.load("x.pt", weights_only=True)  # expect: ok
load_model("m.keras", safe_mode=False)  # expect: unsafe-load
load_model("m.keras")  # expect: ok
torch.load = functools.partial(torch.load, weights_only=False)  # expect: unsafe-load
