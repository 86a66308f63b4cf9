"""Progress callbacks and cancel tokens (shared with ``conversion``, which defines them)."""

from conversion.progress import (
    NEVER_CANCELLED,
    CancelToken,
    Progress,
    cancel_on_interrupt,
    no_progress,
    sub_range,
)

__all__ = [
    "NEVER_CANCELLED",
    "CancelToken",
    "Progress",
    "cancel_on_interrupt",
    "no_progress",
    "sub_range",
]
