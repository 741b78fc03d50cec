"""Small helpers the integration tests share."""

from __future__ import annotations

from typing import Any

import pandas as pd

from toolkit.api import send

SENDER = "sender@example.com"
HI: dict[str, Any] = {"sender": SENDER, "subject": "Hi", "text": "x"}
"""A plain message from the sandbox's verified sender, as keyword arguments."""


def send_hi(df: pd.DataFrame, via: str = "ses", **options: Any) -> pd.DataFrame:
    """``toolkit.send`` with a plain "Hi" message from the sandbox's verified sender and no
    progress bar; ``options`` add to or override any of that."""
    values: dict[str, Any] = {**HI, "progress": False}
    values.update(options)
    return send(df, via, **values)
