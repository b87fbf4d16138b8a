"""Error types. Library code raises only these; the CLI maps them to exit codes."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    row: int | None = None
    column: str | None = None
    hint: str | None = None

    def format(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        if self.key:
            where += f"{self.key}: "
        if self.row is not None:
            where += f"row {self.row}: "
        if self.column:
            where += f"column '{self.column}': "
        text = where + self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class FlowsiteError(Exception):
    """Base for errors caused by the user's project, data or environment (exit code 1)."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str | None = None, *, problems: list[Problem] | None = None, hint: str | None = None):
        self.problems = list(problems or [])
        self.hint = hint
        if message is None:
            message = self.problems[0].format() if len(self.problems) == 1 else f"{len(self.problems)} problems"
        super().__init__(message)

    def format(self) -> str:
        lines = [p.format() for p in self.problems]
        summary = str(self)
        if not self.problems or summary not in lines:
            lines.append(summary)
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class ConfigError(FlowsiteError):
    """flowsite.yml is malformed or invalid."""

    kind = "configuration error"


class SourceError(FlowsiteError):
    """A data file is missing, unreadable or holds values we cannot use."""

    kind = "data error"


class BuildError(FlowsiteError):
    """The site could not be written (output folder, lock, theme)."""

    kind = "build error"


class VersionError(FlowsiteError):
    """A version name or alias is invalid or unknown."""

    kind = "version error"


class DeployError(FlowsiteError):
    """Publishing to a git branch failed; the branch is unchanged."""

    kind = "deploy error"
