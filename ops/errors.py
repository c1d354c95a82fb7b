"""One exception type for expected operational failures, printed as a single line by the CLIs."""


class OpsError(RuntimeError):
    """An expected failure (port in use, missing venv, timeout) with its cause and fix in the message."""
