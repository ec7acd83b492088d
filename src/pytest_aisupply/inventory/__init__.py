"""The inventory: the files under the configured roots (``discovery``), each artifact's sniffed format and
facts and the code's Hub references (``core``), the sniffs and facts kept between runs (``facts_cache``),
the code files parsed once (``code_files``) and local model cards (``modelcard``). No pytest here.

PYTEST_DONT_REWRITE (library code without test asserts)
"""
