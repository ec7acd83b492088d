"""The V7 tar sniff against tarfile itself: a header tarfile opens is a tar, one it refuses is not."""

from __future__ import annotations

import io
import random
import tarfile

from pytest_aisupply.formats.archives import TarReader


def v7_header(rng: random.Random, signed: bool, high_bytes: bool) -> bytes:
    """A 512-byte header without the ustar magic, its checksum the unsigned or the signed sum."""
    name = bytes(rng.choice(range(128, 256)) if high_bytes else rng.choice(b"abcdefgh.") for _ in range(20))
    block = bytearray(name.ljust(100, b"\0") + b"0000644\0" * 3 + b"00000000003\0" + b"00000000000\0")
    block += b" " * 8 + b"0" + bytes(512 - 157)
    block[257:] = bytes(255)
    block[345:360] = bytes(rng.choice(range(256)) for _ in range(15))  # junk in the prefix field
    unsigned = sum(block)
    value = unsigned - 256 * sum(byte > 127 for byte in block) if signed else unsigned
    block[148:156] = b"%06o\0 " % value if value >= 0 else b"-%05o\0" % -value
    return bytes(block) + b"\x80\x02N" + bytes(509)


def tarfile_opens(data: bytes) -> bool:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as archive:
            return archive.next() is not None
    except tarfile.TarError:
        return False


def test_the_v7_sniff_agrees_with_tarfile() -> None:
    rng = random.Random(7)
    reader = TarReader()
    seen = {True: 0, False: 0}
    for index in range(400):
        data = v7_header(rng, signed=index % 2 == 0, high_bytes=index % 4 < 2)
        if index % 5 == 0:  # a wrong checksum
            data = data[:148] + b"%06o\0 " % (int(data[148:154], 8) + 1) + data[156:]
        expected = tarfile_opens(data)
        assert reader.sniff(data[:4096], len(data)) == expected, data[:160]
        seen[expected] += 1
    assert seen[True] > 0
    assert seen[False] > 0


def test_a_directory_placed_past_its_real_offset_is_a_problem_not_an_internal_error() -> None:
    """zipfile subtracts the bytes it takes for a prefix from every member offset: an end record
    that claims the directory 1 MiB further than it lies makes a member's offset negative (found
    by the differential test of the reader lists, from a mutated fuzz seed)."""
    import zipfile

    from helpers.artifacts import zip_bytes
    from pytest_aisupply.formats import builtin_readers
    from pytest_aisupply.formats.core import analyze_content

    data = bytearray(zip_bytes({"m.bin": pickle_payload()}, compression=zipfile.ZIP_STORED))
    end = data.rindex(b"PK\x05\x06")
    offset = int.from_bytes(data[end + 16 : end + 20], "little")
    data[end + 16 : end + 20] = (offset + (1 << 20)).to_bytes(4, "little")

    facts = analyze_content(bytes(data), builtin_readers())
    messages = [problem.message for problem in facts.problems]
    assert facts.format == "zip"
    assert "no local file header at offset -1048576" in messages
    assert not [message for message in messages if "internal error" in message]


def pickle_payload() -> bytes:
    import os
    import pickle

    return pickle.dumps(os.system, protocol=2)
