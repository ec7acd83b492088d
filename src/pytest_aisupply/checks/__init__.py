"""The collected-checks face: the collection plugin (``collection``), its items, check ids on the command
line (``selection``), the terminal summary, the SARIF/BOM file writer (``report_writer``), the facts cache's
saving and summary line (``facts_cache_saver``) and ``--aisupply-update`` (``lock_updater``).

PYTEST_DONT_REWRITE (library code without test asserts)
"""
