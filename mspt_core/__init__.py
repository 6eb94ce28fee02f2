"""mspt core: document model, page pipeline, transformer line recognizer. Imports no Qt."""

__version__ = "0.1.0"
