"""What Tremplin's hub-managed services share: where the data and the courses are, as settings."""

from __future__ import annotations

from traitlets import Unicode, default
from traitlets.config import Application

from .layout import default_courses_dir, default_data_dir


class TremplinServiceApp(Application):
    """Base of ``tremplin-exam`` and ``tremplin-grader``: the data directory and the courses folder."""

    data_dir = Unicode(help="Tremplin's data directory (default: $TREMPLIN_DATA_DIR).").tag(config=True)

    @default("data_dir")
    def _data_dir(self):
        return str(default_data_dir())

    courses_dir = Unicode(help="Folder of the course folders (default: $TREMPLIN_COURSES_DIR).").tag(config=True)

    @default("courses_dir")
    def _courses_dir(self):
        return str(default_courses_dir())
