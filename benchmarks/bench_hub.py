"""Benchmark: Hub content verdicts over HTTP ranges vs. ``hf_hub_download`` of the same files + a scan.

Run from the repository root, with the environment the plugin is installed in:

    PYTHONPATH=src:tests python benchmarks/bench_hub.py [--workdir DIR] [--keep]

It builds two repositories on the local test Hub (``tests/helpers/hub_server.py``, 127.0.0.1, Range
support), with files served from memory-mapped files in a temporary directory (about 3 GiB of disk,
mostly written for the zip; the safetensors shards are sparse):

- ``bench/sharded``: four 512 MiB safetensors shards (2 GiB) and ``model.safetensors.index.json``;
- ``bench/torchzip``: ``pytorch_model.bin``, a 1 GiB PyTorch zip checkpoint: the ``data.pkl`` and
  records of a real ``torch.save`` of a small tensor, plus one 1 GiB storage record (zip64, stored).

For each repository, side by side in one run:

1. remote: ``hub.remote.read_hub_files`` of the files ``AutoModel.from_pretrained`` loads (the loader
   table), i.e. what ``pytest --aisupply-update`` reads: wall time, body bytes served by the Hub for
   ``/resolve/`` GETs, requests per file;
2. download + scan: ``hf_hub_download`` of the same files into a fresh cache, then
   ``formats.analyze_path`` on each: wall time and bytes served.

Figures (median of 3 for the remote reads, 1 run for the downloads) are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import json
import mmap
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, cast

GIB = 1024**3
SHARD = 512 * 1024**2


def sparse_safetensors(path: Path, size: int, mark: int) -> None:
    """A valid safetensors file of ``size`` bytes whose data is a hole (sparse, zeros) but for its last
    byte, ``mark``: shards must differ, or the HF cache would download one blob for all of them."""
    numel = 0
    for _ in range(2):  # the header's length changes the data length once
        header = json.dumps({"weight": {"dtype": "F32", "shape": [numel], "data_offsets": [0, numel * 4]}}).encode()
        header += b" " * (-len(header) % 8)
        numel = (size - 8 - len(header)) // 4
    header = json.dumps({"weight": {"dtype": "F32", "shape": [numel], "data_offsets": [0, numel * 4]}}).encode()
    header += b" " * (-len(header) % 8)
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(header)) + header)
        stream.truncate(8 + len(header) + numel * 4)
        stream.seek(-1, os.SEEK_END)
        stream.write(bytes([mark]))


def torch_zip(path: Path, storage_bytes: int) -> None:
    """A PyTorch zip checkpoint: a real torch.save's records, plus one big stored storage record."""
    import torch

    small = io.BytesIO()
    torch.save({"weight": torch.zeros(4)}, small)
    small.seek(0)
    with zipfile.ZipFile(small) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        prefix = source.namelist()[0].split("/")[0]
        for name in source.namelist():
            target.writestr(source.getinfo(name), source.read(name))
        chunk = b"\0" * (16 * 1024**2)
        with target.open(f"{prefix}/data/big", "w", force_zip64=True) as member:
            for _ in range(storage_bytes // len(chunk)):
                member.write(chunk)


def mapped(path: Path) -> Any:
    with path.open("rb") as stream:
        return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aisupply-bench-hub-", dir=args.workdir))
    os.environ["HF_HOME"] = str(work / "hf-home")
    os.environ["HF_HUB_DISABLE_XET"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        run(work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path) -> None:
    from helpers.hub_server import HubFile, HubServer
    from pytest_aisupply.formats import analyze_path, builtin_readers
    from pytest_aisupply.hub.loads import LoadCall, files_loaded
    from pytest_aisupply.hub.remote import BLOCK_SIZE, read_hub_files
    from pytest_aisupply.lockfile.lock import HubFile as LockedFile

    files = work / "files"
    files.mkdir()
    shards = [f"model-{i:05d}-of-00004.safetensors" for i in range(1, 5)]
    for number, name in enumerate(shards, 1):
        sparse_safetensors(files / name, SHARD, number)
    index = json.dumps({"metadata": {}, "weight_map": {f"w{i}": name for i, name in enumerate(shards)}}).encode()
    torch_zip(files / "pytorch_model.bin", GIB)

    with HubServer() as hub:
        os.environ["HF_ENDPOINT"] = hub.endpoint
        repos = {
            "bench/sharded": [
                HubFile("model.safetensors.index.json", index),
                *[HubFile(name, cast(bytes, mapped(files / name))) for name in shards],
            ],
            "bench/torchzip": [HubFile("pytorch_model.bin", cast(bytes, mapped(files / "pytorch_model.bin")))],
        }
        rows = []
        for repo, content in repos.items():
            sha = hub.add_repo(repo, files=content)
            served = hub.files(repo, sha)
            plan = files_loaded(LoadCall("transformers.AutoModel.from_pretrained"), list(served)).files
            locked = [LockedFile(p, served[p].size, sha256=served[p].sha256) for p in plan]
            total = sum(item.size for item in locked)

            timings, sent, requests, verdicts = [], 0, [], []
            for _ in range(3):
                hub.bytes_sent = 0
                started = time.perf_counter()
                results = list(read_hub_files("model", repo, sha, locked, endpoint=hub.endpoint, token=False))
                timings.append(time.perf_counter() - started)
                sent = hub.bytes_sent
                requests = [r.log.requests for r in results]
                verdicts = sorted({r.facts.format for r in results})
            remote = statistics.median(timings)

            from huggingface_hub import hf_hub_download

            cache = work / f"cache-{repo.replace('/', '-')}"
            hub.bytes_sent = 0
            started = time.perf_counter()
            for item in locked:
                local = hf_hub_download(
                    repo, item.path, revision=sha, cache_dir=cache, endpoint=hub.endpoint, token=False
                )
                analyze_path(Path(local), builtin_readers())
            download = time.perf_counter() - started
            downloaded = hub.bytes_sent
            shutil.rmtree(cache, ignore_errors=True)
            rows.append((repo, len(locked), total, remote, sent, max(requests), verdicts, download, downloaded))

    print(f"block size {BLOCK_SIZE // 1024} KiB; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs\n")
    print("| repo | files read | size | ranges: time | ranges: bytes (share) | max requests/file | formats "
          "| hf_hub_download + scan: time | bytes | speedup |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for repo, count, total, remote, sent, most, formats, download, downloaded in rows:
        print(
            f"| {repo} | {count} | {total / GIB:.2f} GiB | {remote:.3f} s | {sent:,} ({sent / total:.5%}) | {most} "
            f"| {', '.join(formats)} | {download:.1f} s | {downloaded / GIB:.2f} GiB | {download / remote:.0f}x |"
        )


if __name__ == "__main__":
    main()
