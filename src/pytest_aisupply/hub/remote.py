"""Reading Hub files over HTTP Range requests, so the format readers reach a verdict from the few
kilobytes they need (a safetensors header, a zip's directory and pickle members, GGUF metadata).

:class:`RangeFile` is a seekable, block-cached file object with a byte budget; it fetches through
huggingface_hub's own HTTP session (``HF_ENDPOINT``, ``HF_TOKEN``, proxies, offline mode) and checks every
answer: the status, ``Content-Range``, the body length, the ETag against the locked hash and the commit.
A file already in the local HF cache whose content matches the locked hash is read from disk instead.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..formats import ArtifactFacts, FormatReader, Limits, ReadContext, analyze_path, builtin_readers
from ..lockfile.lock import HubFile
from .api import HubError, bounded_session, cached_snapshot, call_hub, describe_hub_error, hub_timeout

#: Bytes per cached block: one request fetches whole blocks, neighbours coalesced.
BLOCK_SIZE = 64 * 1024
#: Bytes one file may pull over the network before its reading stops (a fail-closed problem).
DEFAULT_BUDGET = 32 * 1024 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)\Z")


class RemoteReadError(OSError):
    """A ranged read failed; the readers see an OSError, the caller gets the reason from the file."""


@dataclass
class TransferLog:
    """What reading one file cost: requests sent, body bytes received, where it was read from."""

    requests: int = 0
    bytes: int = 0
    source: str = "hub"


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of ``size`` remote bytes through ``fetch(start, end_inclusive)``.

    Blocks are cached for the life of the object; at most ``budget`` bytes are fetched in total. The
    first failure is kept in :attr:`failure` (the readers only see an OSError).
    """

    def __init__(
        self,
        fetch: Callable[[int, int], bytes],
        size: int,
        *,
        block_size: int = BLOCK_SIZE,
        budget: int = DEFAULT_BUDGET,
        log: TransferLog | None = None,
    ) -> None:
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._block = block_size
        self._budget = budget
        self._blocks: dict[int, bytes] = {}
        self._pos = 0
        self.log = log or TransferLog()
        self.failure: str | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        if self.failure is not None:
            raise RemoteReadError(self.failure)
        remaining = self._size - self._pos
        if remaining <= 0:
            return b""
        count = remaining if size is None or size < 0 else min(size, remaining)
        if count == 0:
            return b""
        first, last = self._pos // self._block, (self._pos + count - 1) // self._block
        self._load(first, last)
        offset = self._pos - first * self._block
        if first == last:  # the readers' many small reads: slice the block, copy no more than asked
            chunk = self._blocks[first][offset : offset + count]
        else:
            chunk = b"".join(self._blocks[index] for index in range(first, last + 1))[offset : offset + count]
        self._pos += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _load(self, first: int, last: int) -> None:
        index = first
        while index <= last:
            if index in self._blocks:
                index += 1
                continue
            run_end = index
            while run_end + 1 <= last and run_end + 1 not in self._blocks:
                run_end += 1
            last_block = (self._size - 1) // self._block
            if run_end == last_block and index == first and index > 0 and index - 1 not in self._blocks:
                # a file's end (a zip's end record) is read before what precedes it (its central
                # directory): fetch one block more in the same request rather than a second request
                index -= 1
            start = index * self._block
            end = min((run_end + 1) * self._block, self._size) - 1
            if self.log.bytes + (end - start + 1) > self._budget:
                self.failure = (
                    f"reading needs more than {self._budget} bytes over the network (the budget); "
                    "download the file and check it locally"
                )
                raise RemoteReadError(self.failure)
            try:
                data = self._fetch(start, end)
            except HubError as exc:
                self.failure = str(exc)
                raise RemoteReadError(self.failure) from exc
            self.log.requests += 1
            self.log.bytes += len(data)
            for block in range(index, run_end + 1):
                offset = (block - index) * self._block
                self._blocks[block] = data[offset : offset + self._block]
            index = run_end + 1


class _Status:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


class _HttpStatus(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = _Status(status)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value.strip() if isinstance(value, str) else None


def _etag(value: str | None) -> str | None:
    if value is None:
        return None
    return value.removeprefix("W/").strip('"')


def check_answer(
    status: int,
    headers: Mapping[str, str],
    first_headers: Mapping[str, str],
    chunks: Iterable[bytes],
    *,
    start: int,
    end: int,
    size: int,
    expected: HubFile,
    revision: str,
) -> bytes:
    """The body of one ranged answer, after checking that it is exactly the bytes asked for of the
    reviewed file; reads at most one byte more than asked (never a whole file sent instead)."""
    if status >= 400:
        raise _HttpStatus(status, f"{status} for bytes {start}-{end} of {expected.path}")
    commit = _header(first_headers, "X-Repo-Commit")
    if commit is not None and commit != revision:
        raise ValueError(f"the Hub served {expected.path} from commit {commit}, not the pinned {revision}")
    linked = _etag(_header(first_headers, "X-Linked-Etag"))
    plain = _etag(_header(first_headers, "ETag"))
    if expected.sha256 is not None and linked is not None and linked != expected.sha256:
        raise ValueError(f"{expected.path}: the Hub's ETag {linked} differs from the locked sha256 {expected.sha256}")
    if expected.sha256 is None and expected.git_sha1 and plain is not None and plain != expected.git_sha1:
        raise ValueError(
            f"{expected.path}: the Hub's ETag {plain} differs from the locked git sha1 {expected.git_sha1}"
        )
    if status != 206:
        raise ValueError(
            f"the server ignored the Range request for {expected.path} (HTTP {status} with the whole file); "
            "nothing more was read"
        )
    content_range = _CONTENT_RANGE.match(_header(headers, "Content-Range") or "")
    if content_range is None or (int(content_range[1]), int(content_range[2])) != (start, end):
        raise ValueError(
            f"wrong Content-Range for {expected.path}: asked bytes {start}-{end}, "
            f"got {_header(headers, 'Content-Range')!r}"
        )
    if content_range[3] != "*" and int(content_range[3]) != size:
        raise ValueError(f"{expected.path} is {content_range[3]} bytes on the Hub, {size} in the lockfile")
    want = end - start + 1
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > want:
            raise ValueError(f"oversized answer for {expected.path}: more than the {want} bytes asked for")
    if len(body) < want:
        raise ValueError(f"short answer for {expected.path}: {len(body)} of {want} bytes")
    return bytes(body)


def ranged_get(url: str, headers: Mapping[str, str], *, start: int, end: int, size: int, expected: HubFile,
               revision: str, timeout: float) -> bytes:  # fmt: skip
    """One ``Range`` GET through huggingface_hub's session (httpx/httpx2 ``stream``, requests ``stream=True``)."""
    from huggingface_hub import get_session

    session: Any = get_session()
    asked = {**headers, "Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
    check = dict(start=start, end=end, size=size, expected=expected, revision=revision)
    if callable(getattr(session, "stream", None)):  # 1.x httpx, 2.x httpx2 (requests: a flag)
        with session.stream("GET", url, headers=asked, timeout=timeout, follow_redirects=True) as response:
            first = response.history[0].headers if response.history else response.headers
            return check_answer(
                response.status_code,
                response.headers,
                first,
                response.iter_bytes(),
                **check,  # type: ignore[arg-type]
            )
    response = session.get(url, headers=asked, timeout=timeout, stream=True, allow_redirects=True)  # 0.x requests
    try:
        first = response.history[0].headers if response.history else response.headers
        return check_answer(
            response.status_code,
            response.headers,
            first,
            response.iter_content(BLOCK_SIZE),
            **check,  # type: ignore[arg-type]
        )
    finally:
        response.close()


@dataclass
class RemoteFacts:
    """What the readers found in one Hub file, and what reading it cost."""

    path: str
    facts: ArtifactFacts
    log: TransferLog = field(default_factory=TransferLog)


def analyze_stream(
    raw: io.RawIOBase, size: int, readers: list[FormatReader] | None = None, limits: Limits | None = None
) -> ArtifactFacts:
    """The readers on any seekable stream; the counterpart of :func:`formats.analyze_path`."""
    facts = ArtifactFacts(format="unknown", artifact=True, size=size)
    ctx = ReadContext(readers or builtin_readers(), limits or Limits(), facts)
    try:
        name = ctx.read_stream(raw, size)  # type: ignore[arg-type]
    except OSError as exc:
        ctx.add_problem(f"read error: {exc}")
        name = "unreadable"
    facts.format = name or ctx.not_artifact or ("text" if size else "empty")
    facts.artifact = name is not None
    return facts


def read_hub_files(
    repo_type: str,
    repo_id: str,
    revision: str,
    files: Iterable[HubFile],
    *,
    budget: int = DEFAULT_BUDGET,
    readers: list[FormatReader] | None = None,
    limits: Limits | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> Iterator[RemoteFacts]:
    """Facts per file: from a matching local HF cache snapshot, else over ranged requests.

    Raises HubError when a file cannot be read from the Hub (the caller's "could not be checked").
    ``endpoint`` and ``token`` default to huggingface_hub's (``HF_ENDPOINT``, ``HF_TOKEN``).
    """
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

    readers = readers or builtin_readers()
    snapshot = cached_snapshot(repo_type, repo_id, revision)
    timeout = hub_timeout()
    headers = call_hub("HTTP headers", lambda: dict(build_hf_headers(token=token)), timeout)
    for item in files:
        local = _cached_copy(snapshot, item)
        if local is not None:
            facts = analyze_path(local, readers, limits)
            with local.open("rb") as handle:
                _add_unsafe_format_facts(handle, item.size, facts, limits)  # type: ignore[arg-type]
            yield RemoteFacts(item.path, facts, TransferLog(0, 0, "cache"))
            continue
        url = hf_hub_url(repo_id, item.path, repo_type=repo_type, revision=revision, endpoint=endpoint)

        def fetch(start: int, end: int, item: HubFile = item, url: str = url) -> bytes:
            return call_hub(
                f"{repo_type} {repo_id}@{revision}: {item.path}",
                lambda: ranged_get(
                    url,
                    headers,
                    start=start,
                    end=end,
                    size=item.size,
                    expected=item,
                    revision=revision,
                    timeout=timeout,
                ),
                timeout,
            )

        remote = RangeFile(fetch, item.size, budget=budget)
        with bounded_session(timeout):
            facts = analyze_stream(remote, item.size, readers, limits)
            _add_unsafe_format_facts(remote, item.size, facts, limits)
        if remote.failure is not None and "budget" not in remote.failure:
            raise HubError(remote.failure)
        yield RemoteFacts(item.path, facts, remote.log)


def _add_unsafe_format_facts(raw: io.RawIOBase, size: int, facts: ArtifactFacts, limits: Limits | None) -> None:
    """The unsafe-format rule reads legacy Keras H5 files and Keras v3 archives with readers of its own
    (not among the built-in ones); a Hub file has no local copy for it to read, so their facts
    (``keras_config``, ``keras_h5_unread``, problems) are recorded with the rest."""
    import zipfile

    from ..formats.keras import KerasArchiveReader, KerasH5Reader

    reader: FormatReader
    if facts.format == "hdf5":
        reader = KerasH5Reader()
    elif facts.format == "keras":  # the zip reader names Keras v3 archives; their config is read here
        reader = KerasArchiveReader()
    elif facts.format == "zip":
        try:
            raw.seek(0)
            with zipfile.ZipFile(raw) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
            return
        if not {"config.json", "metadata.json"} <= names:
            return
        reader = KerasArchiveReader()
        facts.details.setdefault("keras_archive", []).append(True)
    else:
        return
    raw.seek(0)
    extra = analyze_stream(raw, size, [reader], limits)
    for key in ("keras_config", "keras_h5_unread"):
        if extra.detail(key):
            facts.details[key] = [*facts.detail(key), *extra.detail(key)]
    facts.problems.extend(problem for problem in extra.problems if problem not in facts.problems)


def _cached_copy(snapshot: Path | None, item: HubFile) -> Path | None:
    """The cached file when its content is the locked one (a tampered cache is read from the Hub)."""
    if snapshot is None:
        return None
    path = snapshot / item.path
    if not path.is_file():
        return None
    from ..lockfile.hashing import git_blob_sha1, sha256_file

    try:
        actual = sha256_file(path) if item.sha256 else git_blob_sha1(path)
    except OSError:
        return None
    return path if actual == (item.sha256 or item.git_sha1) else None


__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_BUDGET",
    "RangeFile",
    "RemoteFacts",
    "RemoteReadError",
    "TransferLog",
    "analyze_stream",
    "describe_hub_error",
    "read_hub_files",
]
