"""castoff — release preparation as a durable, resumable graph of tasks."""

__version__ = "0.1.0"

__all__ = ["__version__"]
