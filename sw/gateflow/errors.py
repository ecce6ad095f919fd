"""The one base class of gateflow's own errors.

The CLI prints any GateflowError as a one-line message and exits non-zero;
anything else reaching the top is a bug.
"""


class GateflowError(Exception):
    """A user-facing error with a one-line message."""
