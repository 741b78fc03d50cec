"""Compose: a DataFrame and a :class:`ComposeSpec` become checked, rendered messages.

The stages, one module each: :mod:`.spec` (what to compose, and the problem codes of rows
refused before sending), :mod:`.frame` (the input made into a frame pre-flight can read),
:mod:`.preflight` with :mod:`.columns` (every row checked before the first send), :mod:`.plan`
(the plan and its chunked rendering), :mod:`.render` (``{{column}}`` templates), :mod:`.mime`
(MIME), :mod:`.preview` (sample messages as they will be sent), :mod:`.sendplan` (what
will and will not be sent, why, how long, how much), :mod:`.addresses` (address syntax),
:mod:`.attachments` (files read only under ``attachment_dir``), :mod:`.message` (the
message a transport receives). Nothing here talks to the network.
"""

from toolkit.compose.plan import Plan, plan
from toolkit.compose.preview import Preview
from toolkit.compose.sendplan import SendPlan
from toolkit.compose.spec import ComposeSpec

__all__ = ["ComposeSpec", "Plan", "Preview", "SendPlan", "plan"]
