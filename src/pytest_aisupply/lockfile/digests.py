"""The written forms of the digests the plugin compares: a file's SHA-256 and a git object id.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import re
from typing import Final

#: A SHA-256 digest as ``sha256sum`` writes it: 64 lowercase hex digits.
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}\Z")
#: A full git object id (a commit, or a file's git blob id): 40 lowercase hex digits, never a short form.
GIT_SHA1_HEX: Final = re.compile(r"[0-9a-f]{40}\Z")
