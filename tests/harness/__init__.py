"""Test helpers that talk to the real servers the fixtures start (see tests/conftest.py)."""
