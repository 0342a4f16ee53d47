"""Care: the therapist relation and what it allows.

`access` is the one check of what a therapist may read (and the only module that filters
shares, care links or safety alerts by therapist); `links` makes and ends care links;
`shares` lets a linked therapist read chosen records; `alerts` raises safety alerts.
"""
