"""Offline sync settings: the records of other apps in the sync feed, and who says whether
a patient's devices take pushes. Star-imported by backend.settings.

Both are dotted paths (journal imports nothing above it), resolved at start-up by
backend.checks like the other hook settings.
"""

__all__ = ["JOURNAL_PUSH_CAPABLE_HOOKS", "JOURNAL_SYNC_SOURCES"]

# Factories of `journal.sync.sources.SyncSource`: each adds a kind of record to the feed.
JOURNAL_SYNC_SOURCES: list[str] = ["integration.prompts.sync.prompt_sync_source"]

# `(*, patient) -> bool`: True when a device of the patient takes pushes (the sync answer's
# `local_notifications` is then false).
JOURNAL_PUSH_CAPABLE_HOOKS: list[str] = ["integration.delivery.selectors.patient_is_push_capable"]
