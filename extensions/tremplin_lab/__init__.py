"""What runs in Jupyter servers and talks to Tremplin's exam service over HTTP only.

* :mod:`.exchange`: nbgrader's exchange classes (``ExchangeFactory`` plugins) that fetch,
  submit, release, collect and return feedback through the exam service instead of a
  shared folder; used by learners' servers and by the course formgraders.
* :mod:`.serverext`: the learner server extension: autosave of exam notebooks to the
  service, the countdown's data, and no more saving once a candidate's time is over.
* ``labextension/``: the JupyterLab countdown (prebuilt; installed by ``make``).
"""


def _jupyter_server_extension_points():
    return [{"module": "tremplin_lab.serverext"}]
