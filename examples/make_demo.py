"""Write the demo repository's model and data files into examples/demo/.

Standard library only, so it runs right after ``pip install .``. The files are real formats:
a safetensors model (header + little-endian float32 data), a raw pickle checkpoint, a
PyTorch-layout zip checkpoint whose pickle sits under a folder name of its own, and a JSON config.
Unpickling the pickles would be harmless (they reference only ``collections.OrderedDict`` and
``builtins.print``), but the scanner never unpickles them anyway.
"""

from __future__ import annotations

import collections
import json
import pickle
import struct
import zipfile
from pathlib import Path

DEMO = Path(__file__).resolve().parent / "demo"


def write_safetensors(path: Path, tensors: dict[str, list[float]]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    data = b""
    for name, values in tensors.items():
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)


class _Greeting:
    """Pickles as a call to ``print``: what a code-carrying checkpoint looks like, harmlessly."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this checkpoint ran code while loading",))


def main() -> None:
    models = DEMO / "models"
    data = DEMO / "data"
    models.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    write_safetensors(models / "encoder.safetensors", {"embed.weight": [0.1, 0.2, 0.3, 0.4]})
    state = collections.OrderedDict(weight=[0.5, -0.5], bias=[0.0], hook=_Greeting())
    (models / "classifier.pkl").write_bytes(pickle.dumps(state, protocol=4))
    with zipfile.ZipFile(models / "checkpoint.bin", "w") as archive:
        archive.writestr("my_run/data.pkl", pickle.dumps(collections.OrderedDict(step=1000), protocol=2))
        archive.writestr("my_run/version", "3\n")
        archive.writestr("my_run/data/0", struct.pack("<4f", 1, 2, 3, 4))
    (data / "labels.json").write_text(json.dumps(["cat", "dog"]) + "\n")
    (data / "vocab.bin").write_bytes(pickle.dumps({"cat": 0, "dog": 1}, protocol=0))
    print(f"wrote demo artifacts under {DEMO}")


if __name__ == "__main__":
    main()
