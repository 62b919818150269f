"""Helpers shared by the tests (import as ``from support.NAME import ...``)."""
