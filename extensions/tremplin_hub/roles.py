"""The roles of Tremplin's accounts and the hub group each one puts its accounts in.

Kept apart from :mod:`.accounts` (which imports SQLAlchemy and argon2) so that the ``tremplin``
command can name them in its help without that import.
"""

ROLES = ("learner", "professor", "coordinator", "admissions", "admin")

#: JupyterHub group of each role; learners get the default ``user`` role only.
ROLE_GROUPS = {"professor": "professors", "coordinator": "coordinators", "admissions": "admissions",
               "admin": "admins"}

#: The custom JupyterHub scope of the coordinators' page of campaigns' candidates (``/hub/campaigns``):
#: coordinators and Tremplin's administrators have it.
ROSTERS = "custom:tremplin-rosters"
ROSTERS_DESCRIPTION = "Load campaigns' rosters, invite and withdraw their candidates (the page /hub/campaigns)."
