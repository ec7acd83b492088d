"""Static reading of Python files and notebooks: Hub references and unsafe loader calls.

Nothing here imports or executes the code it reads; it parses it with :mod:`ast`.

PYTEST_DONT_REWRITE (library code without test asserts)
"""
