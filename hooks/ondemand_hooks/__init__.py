"""Hooks and admin commands of the Open OnDemand snap.

Run as `python3 -m ondemand_hooks <install|configure|post-refresh|remove|update-portal>`.
"""

__version__ = "0.1.0"
