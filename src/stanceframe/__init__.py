"""stanceframe: sentence-level stance and narrative-framing tagging of news text."""

__version__ = "0.1.0"
