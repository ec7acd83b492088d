"""Tests of a file's first bytes that a reader and its lazy entry in :mod:`.readers` share.

This module imports nothing: deciding that a head is not of a format must not import the format's
reader (``tarfile`` for tar).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations


def is_tar_head(head: bytes) -> bool:
    """A tar header: the ``ustar`` magic at 257, or a V7 header (no magic), which ``tarfile`` (and
    so ``torch.load``'s legacy tar reader and ``pandas.read_pickle`` of a ``.tar``) opens all the
    same: recognised, as ``tarfile.TarInfo.frombuf`` checks it, by its header checksum. The tar
    reader's own sniff, kept here so that deciding a head is no tar imports no ``tarfile``."""
    if len(head) >= 262 and head[257:262] == b"ustar":
        return True
    if len(head) < 512 or not any(head[:512]):
        return False
    field = head[148:156]
    if field[:1] in (b"\x80", b"\xff"):
        return False  # a base-256 checksum: tarfile accepts it, but no writer makes one
    text = field.split(b"\0", 1)[0].strip()
    try:
        checksum = int(text.decode("ascii") or "0", 8)
    except ValueError:
        return False
    block = head[:148] + b"        " + head[156:512]
    unsigned = sum(block)
    # tarfile's signed sum reads each byte over 127 as byte - 256: counted in C, not per byte in
    # Python (every file of 512 bytes or more that no earlier reader took comes here)
    signed = unsigned - 256 * len(block.translate(None, _LOW_BYTES))
    return checksum in (unsigned, signed)


_LOW_BYTES = bytes(range(128))
