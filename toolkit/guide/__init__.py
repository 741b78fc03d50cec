"""Which AWS service should send this mail? The dated decision guide, its widgets and sources."""

from toolkit.guide.recommend import *  # noqa: F403  (temporary during the move)
from toolkit.guide.recommend import SECONDS_PER_DAY, guide_cli, show  # noqa: F401
