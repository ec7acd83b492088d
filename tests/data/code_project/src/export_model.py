"""Writes a model folder that another script (reload_model.py) loads back by the same name."""


def export(model):
    model.save("output/exported-encoder")
