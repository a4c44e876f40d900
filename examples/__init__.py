"""Runnable counterparts of the published W&B <-> Dagster guide, on the modern API.

Run them all end to end with ``python -m examples`` (see README).
"""
