"""The audit trail: a hash chain (HMAC when keyed) across files, its checkpoints and its check.

``backend`` seals records into the chain (:class:`AuditBackend`); ``_trail`` appends them to
the file (synced by policy, cut back on failure, rotated); ``_resume`` finds where the chain
stands when the file is opened (a torn tail set aside, a damaged line kept); ``_guard`` holds
what the trail cannot take yet and makes ``audit()`` wait or raise; ``_gaps`` seals records
lost at close as a gap record; ``_files`` refuses files that are not ours; ``_checkpoint``
keeps the chain's head beside the trail; ``verify`` (with ``_end``) checks a trail up to that
head (``hft audit verify``); ``_chain`` is the line format both sides share.
"""

from hft.logging.audit._files import AuditPathError
from hft.logging.audit._guard import AuditWriteError
from hft.logging.audit.backend import AuditBackend, AuditChainError
from hft.logging.audit.verify import AuditProblem, AuditReport, verify_audit_files

__all__ = [
    "AuditBackend",
    "AuditChainError",
    "AuditPathError",
    "AuditProblem",
    "AuditReport",
    "AuditWriteError",
    "verify_audit_files",
]
