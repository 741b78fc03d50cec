"""Attachment files named in a column: read only under one directory, checked twice.

Why: a frame may come from someone else, and a cell naming ``/etc/passwd`` or
``../../.ssh/id_rsa`` must not be mailed out. A cell is a path relative to ``attachment_dir``
(default: the working directory when the plan is made); anything whose real path (symbolic
links followed) is not under that directory makes its row ``invalid``
(``AttachmentNotAllowed``), a file that does not exist ``AttachmentNotFound``. Pre-flight
resolves each distinct cell once; rendering reads the resolved path and resolves it again, so a
link swapped in between is refused too.

Usage::

    base = attachment_base(None)                    # the working directory, resolved
    found = resolve_attachment(base, "invoices/42.pdf")   # real path, or (code, message)
    attachment = read_attachment(base, "invoices/42.pdf", found)
"""

from __future__ import annotations

import os

from toolkit.compose.message import Attachment
from toolkit.compose.mime import guess_content_type
from toolkit.compose.spec import ATTACHMENT_NOT_ALLOWED, ATTACHMENT_NOT_FOUND
from toolkit.errors import ConfigurationError

__all__ = ["AttachmentProblem", "attachment_base", "read_attachment", "resolve_attachment"]


class AttachmentProblem(Exception):
    """A row's attachment cannot be read at render time (code and message for its outcome)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def attachment_base(directory: str | os.PathLike[str] | None) -> str:
    """The real path of the directory attachments may come from (default: the working one)."""
    base = os.path.realpath(directory if directory is not None else os.getcwd())
    if not os.path.isdir(base):
        raise ConfigurationError(f"attachment_dir {str(directory)!r} is not a directory")
    return base


def resolve_attachment(base: str, path: str) -> str | tuple[str, str]:
    """The real path of an attachment cell under ``base``, or (code, message) when it cannot
    be used: missing, or leading outside ``base`` (``..``, an absolute path, a symbolic link)."""
    shown = repr(path) if len(path) <= 200 else repr(path[:200]) + "…"
    try:
        real = os.path.realpath(os.path.join(base, path))
        inside = os.path.commonpath([base, real]) == base
    except (OSError, ValueError):
        return ATTACHMENT_NOT_FOUND, f"attachment path {shown} is not a usable file name"
    if not inside:
        return (ATTACHMENT_NOT_ALLOWED,
                f"attachment file {shown} is outside the attachment directory {base}; "
                "attachments are read only under attachment_dir= (default: the working "
                "directory)")  # fmt: skip
    if not os.path.isfile(real):
        return ATTACHMENT_NOT_FOUND, f"attachment file {shown} does not exist"
    return real


def read_attachment(base: str, cell: str, real: str) -> Attachment:
    """The file pre-flight resolved for ``cell``, read now (raises AttachmentProblem)."""
    found = resolve_attachment(base, cell)
    if isinstance(found, tuple) or found != real:
        code, message = (
            found
            if isinstance(found, tuple)
            else (ATTACHMENT_NOT_ALLOWED, f"attachment file {cell!r} changed since pre-flight")
        )
        raise AttachmentProblem(code, message)
    try:
        with open(real, "rb") as handle:
            content = handle.read()
    except OSError as exc:
        raise AttachmentProblem(ATTACHMENT_NOT_FOUND, f"attachment file {cell!r}: {exc}") from exc
    name = os.path.basename(cell)
    return Attachment(filename=name, content=content, content_type=guess_content_type(name))
