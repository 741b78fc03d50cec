"""The toolkit's own exceptions: configuration mistakes, never per-row problems.

Per-row problems (a bad address, a throttled recipient, a bounce) are *outcomes*
(:class:`toolkit.results.Outcome`), not exceptions. Exceptions are for things that stop a
whole run before or while it starts, and for transport faults that concern a whole batch.

    ToolkitError
    ├── ConfigurationError (ValueError)  a setting, file, column or credential is wrong
    │   ├── MissingColumnError (KeyError)     a mapped or templated column is not in the frame
    │   ├── MissingDependencyError (ImportError)  an optional package is not installed
    │   ├── DiskFullError                     the ledger's disk is full (free space, resume)
    │   └── ProviderConfigurationError        the provider refused the whole account/app/sender
    └── SandboxError                     the embedded sandbox could not start or serve

``ConfigurationError`` is also a ``ValueError`` (and its leaves a ``KeyError``/``ImportError``),
so code written against the builtins keeps working; catch :class:`ToolkitError` to catch
everything the toolkit raises on purpose.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DiskFullError",
    "MissingColumnError",
    "MissingDependencyError",
    "ProviderConfigurationError",
    "SandboxError",
    "ToolkitError",
]


class ToolkitError(Exception):
    """Root of every exception the toolkit raises on purpose."""


class ConfigurationError(ToolkitError, ValueError):
    """Something the user set up is wrong; nothing was (or will be) sent until it is fixed."""


class MissingColumnError(ConfigurationError, KeyError):
    """A column named in the mapping or a template is not in the DataFrame."""

    def __init__(self, column: str, where: str = "") -> None:
        self.column = column
        self.where = where
        super().__init__(column)

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # travels from Dask workers
        return type(self), (self.column, self.where)

    def __str__(self) -> str:
        suffix = f" (used by {self.where})" if self.where else ""
        return f"column {self.column!r} is not in the DataFrame{suffix}"


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional package is needed for this feature (``extra``: the toolkit's pip extra
    that brings it, e.g. ``"dask"`` for ``pip install "toolkit[dask]"``)."""

    def __init__(self, package: str, feature: str, extra: str | None = None) -> None:
        self.package = package
        self.extra = extra
        self.feature = feature
        how = f'pip install "toolkit[{extra}]"' if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the {package!r} package: {how}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str | None]]:
        return type(self), (self.package, self.feature, self.extra)


class DiskFullError(ConfigurationError):
    """The disk under a file the run must write (the ledger) is full.

    A configuration error because the user fixes it (free space, or another path) and
    resumes: nothing the journal holds is lost, rows not answered stay pending/unknown.
    """


class ProviderConfigurationError(ConfigurationError):
    """The provider refused the whole batch for a reason no retry can fix.

    Examples: credentials rejected, account suspended or sending paused, the Pinpoint
    application does not exist (or Pinpoint has ended), the stored template is missing.
    The engine stops and marks every row it has not finished as ``failed`` with this code.
    """

    def __init__(self, code: str, message: str, transport: str = "") -> None:
        self.code = code
        self.transport = transport
        super().__init__(f"{code}: {message}" if code else message)
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        """Rebuilt from its parts (a Dask worker's refusal reaches the client intact)."""
        return type(self), (self.code, self.message, self.transport)


class SandboxError(ToolkitError):
    """The embedded sandbox could not start or serve."""
