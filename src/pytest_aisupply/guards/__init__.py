"""Run-time guards: audit and HTTP hooks that catch what a test's code does while it does it
(``interceptors``). No pytest here: the markers that turn them on are in ``fixture``.

PYTEST_DONT_REWRITE (library code without test asserts)
"""
