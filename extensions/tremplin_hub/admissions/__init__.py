"""Admissions: pre-selection campaigns, their rosters and their signed exports.

Depends on the exam package (its core's outcomes, its policy's rules), never the reverse:
the exam service serves these pages only because :mod:`tremplin_hub.exam_service` plugs
them in.
"""

from .store import Admissions, BadCampaign, CampaignError, NoCampaign, StillGrading, parse_campaign, parse_roster

__all__ = ["Admissions", "BadCampaign", "CampaignError", "NoCampaign", "StillGrading", "export", "gather",
           "no_groups", "parse_campaign", "parse_roster"]


def __getattr__(name: str):
    # The results (and with them the exam store and SQLAlchemy) are imported when first used: the
    # export reads the campaign and starts on the gradebooks before that import (see results.gather).
    if name in ("export", "gather", "no_groups"):
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
