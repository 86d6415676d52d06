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


def header_note(header: list[str]) -> str:
    """What an error message may say about a file's header: its names, but only those without a digit.

    A file without a header row has its first data row read as the header, so a name with a digit may be
    a value of the file (a patient, prescriber or pharmacy id, a date): it is counted, never quoted."""
    named = [name for name in header if not any(c.isdigit() for c in name)]
    others = len(header) - len(named)
    if not others:
        return f"found: {', '.join(named) or 'none'}"
    hidden = f"{others} name(s) with digits, not shown as they may be data: is the header row missing?"
    return f"found: {', '.join(named)}, and {hidden}" if named else f"found {hidden}"
