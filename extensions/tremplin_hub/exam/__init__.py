"""The exam service: timed pre-selection exams (windows, durations, accommodations) on the hub.

This package grows issue by issue; :mod:`.timing` holds the rules of time, decided by the
service's own clock and never by a candidate's machine.
"""
