"""The one exception type for mistakes a user can fix (bad names, bad files, missing installs).

The command line prints its message as a single sentence, without a traceback. Raise it with a
message that says what was wrong and what to do about it.
"""


class UserError(Exception):
    """A problem in the user's input or setup, with a message that says how to fix it."""


def did_you_mean(name: str, choices, cutoff: float = 0.75) -> str:
    """" (did you mean X?)" for the choice closest to a mistyped ``name`` (qmixx -> qmix), "" when none is close."""
    import difflib

    near = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return f" (did you mean {near[0]}?)" if near else ""
