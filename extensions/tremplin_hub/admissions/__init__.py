"""Admissions: pre-selection campaigns, their rosters and their signed exports.

Depends on the exam package (its core's outcomes, its policy's rules), never the reverse:
the exam service serves these pages only because :mod:`tremplin_hub.exam_service` plugs
them in.
"""

from .results import export, gather, no_groups
from .store import Admissions, BadCampaign, CampaignError, NoCampaign, StillGrading, parse_campaign, parse_roster

__all__ = ["Admissions", "BadCampaign", "CampaignError", "NoCampaign", "StillGrading", "export", "gather",
           "no_groups", "parse_campaign", "parse_roster"]
