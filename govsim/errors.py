"""Exceptions raised by govsim.

Every error caused by user input is a :class:`ScenarioError` carrying the dotted
key at fault, so that the command line can print one line and exit with status 2.
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario (file, override or experiment spec) is invalid.

    Parameters
    ----------
    message : str
        One line saying what is wrong and what is allowed.
    key : str, optional
        The dotted key at fault (``"citizens.n"``), when there is one.

    Examples
    --------
    >>> err = ScenarioError("must be >= 1, got 0", key="citizens.n")
    >>> str(err)
    'citizens.n: must be >= 1, got 0'
    """

    def __init__(self, message: str, key: str | None = None):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)
