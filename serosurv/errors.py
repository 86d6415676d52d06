"""The one exception type users see: a sentence that says what was wrong and what to do."""


class SerosurvError(Exception):
    """An error the user can fix (bad input, bad usage, bad rule file).

    The CLI prints the message without a traceback and exits with `exit_code` (2 by default).
    Messages name the file, row and field where there is one, and never a patient identifier.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class GateFailed(SerosurvError):
    """The data-quality gate stopped the night; the warehouse is left as it was."""
