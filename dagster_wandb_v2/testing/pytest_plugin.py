"""Pytest plugin (``pytest11`` entry point) with fixtures for testing pipelines that use W&B."""
