"""Score exports for admissions: campaign results, their files, and signed manifests.

* :mod:`.model`: campaigns, candidates, per-section results; status, total, rank, percentile.
* :mod:`.formats`: CSV (Excel-ready UTF-8), XLSX and JSON with a published schema.
* :mod:`.signing`: the Ed25519-signed manifest and its verification.

Reads results, never the hub: the hub side (``tremplin_hub.admissions``) fills the model
from its roster, the exam service and the gradebooks.
"""
