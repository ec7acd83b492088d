"""Static reading of Python files and notebooks: Hub references and unsafe loader calls.

Nothing here imports or executes the code it reads; it parses it with :mod:`ast`.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

#: The files the code rules read (kept here so that knowing whether there are any loads nothing else).
CODE_SUFFIXES = (".py", ".ipynb")
