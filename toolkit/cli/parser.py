"""The command line's argument parser: usage errors on one line, with the exit status 2.

Every command's parser is one of these (the report and guide commands too), so a mistyped
flag never prints argparse's multi-line usage block.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

__all__ = ["EXIT_USAGE", "OneLineParser", "one_line"]

EXIT_USAGE = 2


def one_line(text: object) -> str:
    """``text`` on one line: line breaks and other control characters become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()


class OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors on one line (and the exit status 2 it always had)."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")
