"""``aisupply.lock`` and what it records: the lock itself (``lock``), file hashes and their cache
(``hashing``) and the digests' written forms (``digests``).

PYTEST_DONT_REWRITE (library code without test asserts)
"""
