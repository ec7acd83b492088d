"""Benchmark of the signature rule on a signed model folder (issue 15).

Run from the repository root (needs the signing extra and about 2.1 GiB of free disk in the
temporary folder):

    python benchmarks/bench_signature.py [--files 4] [--mib 512]

It writes N generated (not sparse) weight files of M MiB each and a small config into
``models/big`` of a project whose ``[[tool.aisupply.signed]]`` names that folder, signs it with
``model_signing sign key``, and then times:

1. ``sha256sum`` over the weight files (one hashing pass, one process);
2. the rule's first verification, in process (``Engine.evaluate`` with an empty hash cache: the
   signature verified by model-signing, every file hashed on both cores), and the same through
   ``pytest -k signature`` with an empty ``.pytest_cache``;
3. the re-verification of the unchanged folder, in process (plugin time: the hash cache loaded from
   the previous run, nothing re-hashed) and through ``pytest -k signature`` (with ``rchar`` from
   /proc/<pid>/io, the bytes the process read), next to ``--no-aisupply`` as the start-up baseline;
4. ``model_signing verify key`` of the same folder (the library's full verify, which re-hashes).

With ``--hub`` it measures instead a signed Hub repository at ``pytest --aisupply-update`` (no real
disk: the weights are sparse safetensors shards, served memory-mapped by the local test Hub,
``tests/helpers/hub_server.py``): N shards of M MiB, a config and a tokenizer, signed with
``model_signing`` and pushed; a project pins the commit and names it in ``[[tool.aisupply.signed]]``.
Every byte between pytest and the Hub goes through a counting relay (``tests/helpers/wire.py``,
headers included), with a fresh HF cache and no lockfile for each of two runs:

1. ``pytest --aisupply-update -k signature``: the signature rule's own transfer;
2. ``pytest --aisupply-update``: the whole update (integrity's metadata, the weights' ranged content
   reads for their verdicts, the license card ...).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

_RUNNER = (
    "import sys, pytest\n"
    "code = pytest.main(sys.argv[1:])\n"
    "io = dict(line.split(': ') for line in open('/proc/self/io').read().splitlines())\n"
    "print('RCHAR', int(io['rchar']))\n"
    "sys.exit(int(code))\n"
)


def write_weights(path: Path, mib: int, seed: int) -> None:
    """Generated content (different per file, not sparse, not all zeros)."""
    block = bytes((i * 131 + seed * 17) % 256 for i in range(1 << 16)) * 16  # 1 MiB
    with open(path, "wb") as handle:
        for index in range(mib):
            handle.write(index.to_bytes(8, "little") + block[8:])


def timed(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, accept: tuple[int, ...] = (0,)
) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode not in accept:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def rchar(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("RCHAR "):
            return int(line.split()[1])
    return -1


def in_process(project: Path, cache_file: Path) -> tuple[float, list[str], int]:
    """(seconds, findings, bytes hashed) of one signature check as the plugin runs it."""
    from pytest_aisupply.formats import builtin_readers
    from pytest_aisupply.lockfile.hashing import HashCache
    from pytest_aisupply.rules.signature import SignatureRule
    from pytest_aisupply.settings.config import load_settings
    from pytest_aisupply.verdicts.engine import Engine

    settings = load_settings(project / "pyproject.toml", project)
    cache = HashCache.load(cache_file)
    engine = Engine(settings, [SignatureRule()], builtin_readers(), hash_cache=cache)
    engine.inventory.parallel_hashing = True  # as on a run without xdist
    ((rule, (subject,)),) = engine.subjects()
    start = time.perf_counter()
    verdict = engine.evaluate(rule.id, subject)
    elapsed = time.perf_counter() - start
    cache.save(cache_file)
    return elapsed, [f.message for f in verdict.findings], cache.bytes_hashed


def hub_update(shards: int, mib: int) -> None:
    """The ``--hub`` measurement (see the module docstring)."""
    from helpers.hub_server import HubServer
    from helpers.signing import hub_files_of, make_key, signed_sparse_model
    from helpers.wire import WireCounter

    with tempfile.TemporaryDirectory(prefix="bench-signature-hub-") as scratch, HubServer() as hub:
        work = Path(scratch)
        key = make_key(work / "publisher-keys")
        start = time.perf_counter()
        folder = signed_sparse_model(work / "publisher" / "big", key, shards=shards, shard_bytes=mib << 20)
        sign_time = time.perf_counter() - start
        files = hub_files_of(folder)
        repository_bytes = sum(f.size for f in files)
        sha = hub.add_repo("org/big", files=files)
        for item in files:
            item.sha256  # noqa: B018  # the server hashes each file once; not part of the measured runs
        project = work / "project"
        (project / "src").mkdir(parents=True)
        (project / "keys").mkdir()
        shutil.copy(key.public, project / "keys" / "publisher.pub")
        (project / "src" / "serve.py").write_text(
            "from transformers import AutoModelForCausalLM\n\n"
            f'AutoModelForCausalLM.from_pretrained("org/big", revision="{sha}", use_safetensors=True)\n',
            encoding="utf-8",
        )
        (project / "pyproject.toml").write_text(
            '[tool.aisupply]\nartifacts = ["src"]\ncode = ["src"]\nlockfile = "aisupply.lock"\n\n'
            '[[tool.aisupply.signed]]\nhub = "org/big"\npublic_key = "keys/publisher.pub"\n',
            encoding="utf-8",
        )
        port = int(hub.endpoint.rsplit(":", 1)[1])
        rows: list[str] = []
        with WireCounter("127.0.0.1", port) as wire:
            for label, selection in (
                ("`--aisupply-update -k signature` (the signature's own)", ["-k", "signature"]),
                ("`--aisupply-update` (the whole update)", []),
            ):
                (project / "aisupply.lock").unlink(missing_ok=True)
                env = hub.client_env(work / f"hf-home-{len(rows)}", HF_ENDPOINT=wire.endpoint)
                env["PYTHONPATH"] = str(ROOT / "src")
                wire.reset()
                hub.clear_requests()
                served = hub.bytes_sent
                command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "--aisupply-update"]
                elapsed, out = timed([*command, *selection], project, env, accept=(0, 1))
                if f"PASSED aisupply::signature::model:org/big@{sha}" not in out:
                    raise SystemExit(f"the signature check did not pass:\n{out}")
                resolve = [path for method, path in hub.requests if method == "GET" and "/resolve/" in path]
                whole = sum(
                    1
                    for (m, path), h in zip(hub.requests, hub.request_headers, strict=True)
                    if m == "GET" and "/resolve/" in path and "range" not in h
                )
                rows.append(
                    f"| {label} | {wire.received:,} B ({wire.received / (1 << 20):.3f} MiB) | {wire.sent:,} B | "
                    f"{len(hub.requests)} ({len(resolve)} file GETs: {whole} whole, {len(resolve) - whole} ranged) | "
                    f"{hub.bytes_sent - served:,} B | {elapsed:.2f} s |"
                )
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"date: {now}; cores: {os.cpu_count()}; repository: {shards} safetensors shards of {mib} MiB + config.json, "
        f"tokenizer.json, model.sig = {repository_bytes:,} bytes; signing it took {sign_time:.1f} s"
    )
    print()
    print("| Run | Received by pytest | Sent by pytest | Requests | File bodies served | Wall time |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--hub", action="store_true", help="measure a signed Hub repository at update instead")
    args = parser.parse_args(argv)
    if args.hub:
        hub_update(args.files, args.mib)
        return 0
    python = sys.executable
    cli = shutil.which("model_signing") or str(Path(python).parent / "model_signing")
    total_mib = args.files * args.mib
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory(prefix="bench-signature-") as scratch:
        project = Path(scratch)
        folder = project / "models" / "big"
        folder.mkdir(parents=True)
        for index in range(args.files):
            write_weights(folder / f"model-{index:05d}.bin", args.mib, index)
        (folder / "config.json").write_text('{"hidden": 4096, "layers": 32}\n', encoding="utf-8")
        keys = project / "keys"
        keys.mkdir()
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        private = project / "signer.key"
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (keys / "signer.pub").write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        (project / "pyproject.toml").write_text(
            '[tool.aisupply]\nartifacts = ["models"]\ncode = []\nlockfile = ""\n\n'
            '[[tool.aisupply.signed]]\npath = "models/big"\npublic_key = "keys/signer.pub"\n',
            encoding="utf-8",
        )
        signature = ["--signature", "models/big/model.sig", "models/big"]
        sign_time, _ = timed([cli, "sign", "key", "--private_key", str(private), *signature], project)
        weights = sorted(str(p) for p in folder.glob("*.bin"))
        sha_time, _ = timed(["sha256sum", *weights], project)

        start = time.perf_counter()
        importlib.import_module("model_signing.verifying")  # a fixed cost of the first check, shown apart

        import_time = time.perf_counter() - start
        cache_file = project / "bench-hashes.json"
        first_time, first_findings, first_hashed = in_process(project, cache_file)
        again_time, again_findings, again_hashed = in_process(project, cache_file)
        assert first_findings == [], first_findings
        assert again_findings == [], again_findings

        runner = [python, "-c", _RUNNER, "-q", "-k", "signature"]
        pytest_first, out_first = timed(runner, project, env)
        pytest_again, out_again = timed(runner, project, env)
        baseline, out_base = timed([python, "-c", _RUNNER, "-q", "--no-aisupply"], project, env, accept=(0, 5))
        library_time, _ = timed([cli, "verify", "key", "--public_key", "keys/signer.pub", *signature], project)

        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        print(f"date: {now}; cores: {os.cpu_count()}; {args.files} files, {total_mib} MiB in all (+ config.json)")
        print()
        print("| Run | Wall time | Notes |")
        print("| --- | --- | --- |")
        print(f"| `model_signing sign key` (signing) | {sign_time:.2f} s | - |")
        speed = f"{total_mib / sha_time:.0f} MiB/s"
        print(f"| `sha256sum` of the weight files (one hashing pass) | {sha_time:.2f} s | {speed} |")
        print(f"| importing model_signing (once per process, before the first check) | {import_time:.2f} s | - |")
        print(
            f"| first verification, in process (`Engine.evaluate`) | {first_time:.2f} s | "
            f"{first_hashed / (1 << 20):.0f} MiB hashed; {first_time / sha_time:.0%} of `sha256sum` |"
        )
        print(
            f"| re-verification of the unchanged folder, in process (plugin time) | {again_time * 1000:.1f} ms | "
            f"{again_hashed} bytes hashed |"
        )
        print(f"| pytest `-k signature`, empty `.pytest_cache` | {pytest_first:.2f} s | rchar {rchar(out_first):,} |")
        print(
            f"| pytest `-k signature`, unchanged folder | {pytest_again:.2f} s "
            f"(+{pytest_again - baseline:.2f} s over baseline) | rchar {rchar(out_again):,} |"
        )
        print(f"| pytest `--no-aisupply` (start-up baseline) | {baseline:.2f} s | rchar {rchar(out_base):,} |")
        print(
            f"| `model_signing verify key` (the library's full verify) | {library_time:.2f} s | re-hashes every file |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
