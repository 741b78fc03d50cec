"""The tags that tie a message at the provider back to its run and row.

With ``ComposeSpec(run_tag=...)`` every message carries two SES message tags (``EmailTags`` on
the API, the ``X-SES-MESSAGE-TAGS`` header in raw MIME and on SMTP): ``toolkit-run`` = the run
and ``toolkit-row`` = the row key. SES copies them into every event it publishes for the
message, so a row whose answer was lost (``unknown``) can still be matched to its Send,
Delivery or Bounce event (:mod:`toolkit.measure.resolve`).

SES allows only ASCII letters, digits, ``_`` and ``-`` in a tag value, up to 256 characters
(MessageTag in the SES v2 API reference): a row key that fits is sent as ``k<key>``, any other
as ``h<hash>`` (BLAKE2b, 32 hex digits). Matching encodes the row keys being looked for, so
the hash never needs decoding.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["ROW_TAG", "RUN_TAG", "row_tag_value", "valid_tag_value"]

RUN_TAG = "toolkit-run"
ROW_TAG = "toolkit-row"
_SAFE = re.compile(r"[A-Za-z0-9_-]{1,255}")


def valid_tag_value(value: str) -> bool:
    """Whether SES accepts ``value`` as a message tag value."""
    return _SAFE.fullmatch(value) is not None and len(value) <= 256


def row_tag_value(row_key: str) -> str:
    """The ``toolkit-row`` tag value of a row key (see the module docstring)."""
    if _SAFE.fullmatch(row_key) is not None:
        return "k" + row_key
    digest = hashlib.blake2b(row_key.encode("utf-8", "surrogatepass"), digest_size=16)
    return "h" + digest.hexdigest()
