import json
from pathlib import Path


def test_labels_are_readable() -> None:
    labels = json.loads((Path(__file__).parent.parent / "data" / "labels.json").read_text())
    assert labels == ["cat", "dog"]
