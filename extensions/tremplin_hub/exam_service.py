"""The ``tremplin-exam`` process: the exam service with admissions' export pages plugged in.

The exam package knows nothing of admissions; admissions depends on the exam package.
This module, outside both, puts them together (the hub runs it as a managed service).
"""

from __future__ import annotations

from .admissions.pages import export_handlers
from .exam.app import ExamServiceApp


class TremplinExamService(ExamServiceApp):
    def handlers(self, prefix: str) -> list[tuple]:
        return [*super().handlers(prefix), *export_handlers(prefix)]


def main(argv=None):
    TremplinExamService.launch_instance(argv)


if __name__ == "__main__":
    main()
