"""Where papers are graded: worker processes, each a judge template paired with a sandbox slot.

:mod:`.worker` is one worker process; :mod:`.local` starts as many as the machine has cores
(the embedded default); :mod:`.dask` sends papers to workers on other machines through Dask
distributed. Every engine takes a *task* (one notebook of one paper, built by
:mod:`tremplin_grading.autograde`) and returns a :class:`~tremplin_grading.judge.PaperResult`
as a dict.
"""
