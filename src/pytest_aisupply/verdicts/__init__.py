"""Verdicts: the engine that runs the rules over the inventory and applies severities and waivers
(``engine``), and the plain text of a verdict (``render``). No pytest here.

PYTEST_DONT_REWRITE (library code without test asserts)
"""
