"""The Hugging Face Hub: what it says about a pinned reference and where its cache is (``api``), which files
a reference loads (``loads``), reading them over HTTP ranges (``remote``), and the offline switches
(``offline``). The readers' facts about a Hub file are kept in the lockfile as ``formats.facts_json`` writes them.

PYTEST_DONT_REWRITE (library code without test asserts)
"""
