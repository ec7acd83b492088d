"""Report documents built from the data carried on test reports: SARIF 2.1.0 (``sarif``) and the
CycloneDX 1.6 ML-BOM (``bom``). Pure functions from data to documents; no pytest here.

PYTEST_DONT_REWRITE (library code without test asserts)
"""
