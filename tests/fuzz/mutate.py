"""Mutations of seed files, the way hostile files differ from valid ones: bit flips, truncation,
splicing, length fields set to huge values, deep nesting, repeated and deleted chunks.

Everything is driven by a ``random.Random``, so an input is reproducible from (seed, rng seed).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

#: Values written over length fields: the largest of each width, sign boundaries, 2^63.
HUGE = (
    0xFF,
    0x7F,
    0x80,
    0xFFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    1 << 32,
    (1 << 63) - 1,
    1 << 63,
    (1 << 64) - 1,
    0,
    1,
)
#: Tokens repeated to nest deeply: pickle MARK/EMPTY_LIST/TUPLE1, JSON, Python, YAML, TOML.
NESTING = (b"(", b"]", b"](", b"\x85", b"[", b"{", b'{"a":', b"((", b"[[", b"- ", b"a = [", b"\x80\x02]")


def _flip(data: bytearray, rng: random.Random, _: Sequence[bytes]) -> None:
    for _ in range(rng.randint(1, 8)):
        if data:
            position = rng.randrange(len(data))
            data[position] ^= 1 << rng.randrange(8)


def _set_byte(data: bytearray, rng: random.Random, _: Sequence[bytes]) -> None:
    if data:
        data[rng.randrange(len(data))] = rng.choice((0, 0xFF, 0x7F, 0x80, 0x2E, 0x28, 0x0A, 0x22, 0x5B, 0x7B))


def _truncate(data: bytearray, rng: random.Random, _: Sequence[bytes]) -> None:
    if data:
        del data[rng.randrange(len(data)) :]


def _splice(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    other = rng.choice(others) if others else bytes(data)
    cut = rng.randrange(len(data) + 1)
    start = rng.randrange(len(other) + 1)
    data[cut:] = other[start:]


def _huge_length(data: bytearray, rng: random.Random, _: Sequence[bytes]) -> None:
    width = rng.choice((1, 2, 4, 8))
    if len(data) < width:
        return
    value = rng.choice(HUGE) & ((1 << (8 * width)) - 1)
    position = rng.randrange(len(data) - width + 1)
    data[position : position + width] = value.to_bytes(width, rng.choice(("little", "big")))


def _nest(data: bytearray, rng: random.Random, _: Sequence[bytes]) -> None:
    token = rng.choice(NESTING)
    count = rng.choice((10, 100, 1000, 5000, 20000))
    position = rng.randrange(len(data) + 1)
    data[position:position] = token * count


def _repeat(data: bytearray, rng: random.Random, _: Sequence[bytes]) -> None:
    if not data:
        return
    start = rng.randrange(len(data))
    chunk = bytes(data[start : start + rng.randint(1, 64)])
    data[start:start] = chunk * rng.randint(1, 64)


def _delete(data: bytearray, rng: random.Random, _: Sequence[bytes]) -> None:
    if data:
        start = rng.randrange(len(data))
        del data[start : start + rng.randint(1, 256)]


def _insert_random(data: bytearray, rng: random.Random, _: Sequence[bytes]) -> None:
    position = rng.randrange(len(data) + 1)
    data[position:position] = rng.randbytes(rng.randint(1, 32))


MUTATORS: tuple[Callable[[bytearray, random.Random, Sequence[bytes]], None], ...] = (
    _flip,
    _flip,
    _set_byte,
    _truncate,
    _splice,
    _huge_length,
    _huge_length,
    _nest,
    _repeat,
    _delete,
    _insert_random,
)


def mutate(data: bytes, rng: random.Random, others: Sequence[bytes] = (), *, max_size: int = 1 << 16) -> bytes:
    """``data`` with one to four mutations applied, cut to ``max_size``."""
    result = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        rng.choice(MUTATORS)(result, rng, others)
    return bytes(result[:max_size])
