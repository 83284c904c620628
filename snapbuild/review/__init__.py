"""Review: what a store reviewer would check in a built .snap (snapcheck) and the audit of it.

Imports the build and recipe layers' PyYAML-only modules and the top-level ones: `python -m
snapbuild.review.snapcheck` and `python -m snapbuild.review.audit` run where only PyYAML is
installed (the arm64 CI job; tests/unit/review/test_pyyaml_only.py keeps it so).
"""
