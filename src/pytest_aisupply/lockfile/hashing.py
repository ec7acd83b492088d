"""File hashes, computed once and remembered by (path, size, mtime_ns, inode).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file's content, as the Hub reports it for non-LFS files."""
    size = os.stat(path).st_size
    digest = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def stat_key(path: Path) -> str:
    info = os.stat(path)
    return f"{os.path.abspath(path)}|{info.st_size}|{info.st_mtime_ns}|{info.st_ino}"


class HashCache:
    """sha256 of files, reused while (path, size, mtime_ns, inode) is unchanged.

    ``known`` comes from an earlier session; ``fresh`` holds what this session computed, for the
    controller to persist (workers never write the cache file).
    """

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = dict(known or {})
        self.fresh: dict[str, str] = {}
        self.bytes_hashed = 0
        self.prefetched = False

    @classmethod
    def load(cls, path: Path | None) -> HashCache:
        if path is None:
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls({str(k): str(v) for k, v in data.items() if isinstance(v, str)})

    def save(self, path: Path, extra: dict[str, str] | None = None) -> None:
        merged = {**self.known, **self.fresh, **(extra or {})}
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(merged, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)

    def sha256(self, path: Path) -> str:
        key = stat_key(path)
        cached = self.fresh.get(key) or self.known.get(key)
        if cached is None:
            cached = sha256_file(path)
            self.bytes_hashed += os.stat(path).st_size
            self.fresh[key] = cached
        return cached

    def prefetch(self, paths: Iterable[Path]) -> None:
        """Hash many files on all cores (hashlib releases the GIL on large buffers)."""
        missing = []
        for path in paths:
            try:
                key = stat_key(path)
            except OSError:
                continue
            if key not in self.fresh and key not in self.known:
                missing.append(path)
        if len(missing) < 2:
            return
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for path, digest in zip(missing, pool.map(_safe_sha256, missing), strict=True):
                if digest is not None:
                    self.fresh[stat_key(path)] = digest
                    self.bytes_hashed += os.stat(path).st_size


def _safe_sha256(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None
