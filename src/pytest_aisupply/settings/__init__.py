"""Settings: the ``[tool.aisupply]`` table read and validated (``config``), its ``[[waive]]``,
``[[signed]]`` and ``[limits]`` tables (``tables``), what their parsers share (``values``), the schema that
documents every key (``schema``) and the readers' resource caps (``limits``). No pytest here.

PYTEST_DONT_REWRITE (library code without test asserts)
"""
