"""Which AWS service should send this mail? The dated decision guide, its widgets and sources.

The rooms: :mod:`.profile` (the question and the answer's parts), :mod:`.recommend` (the
decision) with :mod:`.rules` (each rule's reasons), :mod:`.timing` and :mod:`.pricing`
(how long and how much), :mod:`.capacity` (does a month's mail fit the quota),
:mod:`.features` (the feature table), :mod:`.export` (the answer as Markdown, to share),
:mod:`.card` and :mod:`.ui` (HTML and ipywidgets), :mod:`.migrate` (Pinpoint SendMessages →
SES v2); ``python -m toolkit guide`` is :mod:`toolkit.cli.guide`.

Usage::

    from toolkit.guide import Profile, recommend, show
    rec = recommend(Profile(channels={"email"}, monthly_volume=200_000, max_send_rate=14))
    rec.capacity.status         # CapacityStatus.FITS; 'does not fit' asks for a quota
    rec.save("answer.md")       # or rec.to_markdown(), rec.to_json()
    show()                      # the interactive guide in a notebook
"""

from __future__ import annotations

from typing import Any

from toolkit.guide.capacity import Capacity, CapacityStatus, check_capacity
from toolkit.guide.features import FeatureCell, feature_table, feature_table_records
from toolkit.guide.profile import (
    CHANNELS,
    SECONDS_PER_DAY,
    Choice,
    Interface,
    PinpointPhase,
    Profile,
    Reason,
    pinpoint_phase,
)
from toolkit.guide.recommend import Recommendation, recommend
from toolkit.guide.timing import (
    Throughput,
    TimeEstimate,
    estimate_time,
    format_duration,
    seconds_to_send,
)

__all__ = [
    "CHANNELS",
    "SECONDS_PER_DAY",
    "Capacity",
    "CapacityStatus",
    "Choice",
    "FeatureCell",
    "Interface",
    "PinpointPhase",
    "Profile",
    "Reason",
    "Recommendation",
    "Throughput",
    "TimeEstimate",
    "check_capacity",
    "estimate_time",
    "feature_table",
    "feature_table_records",
    "format_duration",
    "pinpoint_phase",
    "recommend",
    "seconds_to_send",
    "show",
]


def show(**initial: Any) -> Any:
    """Render the interactive guide (ipywidgets, imported now); see :func:`.ui.show`."""
    from toolkit.guide.ui import show as _show

    return _show(**initial)
