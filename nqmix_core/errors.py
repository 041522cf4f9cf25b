"""The one exception type for mistakes a user can fix (bad names, bad files, missing installs).

The command line prints its message as a single sentence, without a traceback. Raise it with a
message that says what was wrong and what to do about it.
"""


class UserError(Exception):
    """A problem in the user's input or setup, with a message that says how to fix it."""


def did_you_mean(name: str, choices, n: int = 1, cutoff: float = 0.75) -> str:
    """" (did you mean X?)" for what a mistyped ``name`` may mean, "" when nothing is close: up to ``n`` choices
    that hold ``name`` as a whole part (lr -> critic_lr, actor_lr), else the closest spellings (qmixx -> qmix)."""
    import difflib
    import re

    name, choices = str(name), [str(c) for c in choices]
    near = ([c for c in choices if name in re.split(r"[_:\-]", c)][:n]
            or difflib.get_close_matches(name, choices, n=n, cutoff=cutoff))
    return f" (did you mean {', '.join(near[:-1]) + ' or ' if near[1:] else ''}{near[-1]}?)" if near else ""
