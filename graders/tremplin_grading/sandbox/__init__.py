"""The untrusted side of grading: a candidate's code runs here, and nothing else that matters.

A *sandbox slot* is one long-lived Python process (:mod:`.server`) started under bubblewrap
(:mod:`.launch`): its own uid, no network, a read-only system, no data directory, no
tokens, with the scientific stack already imported. For each paper it forks a fresh child
(:mod:`.child`) that runs the candidate's cells and reports the values a grader asked for,
as data (:mod:`.codec`, :mod:`.wire`). When the paper is over, every process of the slot is
killed and its writable folders are wiped, so nothing of one paper survives into the next.

The trusted side (:mod:`tremplin_grading.judge`) never imports anything from here that a
candidate could have touched: it only reads frames with its own parsers.
"""
