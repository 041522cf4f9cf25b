"""The one exception type for mistakes a user can fix (bad names, bad files, missing installs).

The command line prints its message as a single sentence, without a traceback. Raise it with a
message that says what was wrong and what to do about it.
"""


class UserError(Exception):
    """A problem in the user's input or setup, with a message that says how to fix it."""
