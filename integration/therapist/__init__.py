"""The therapist's read-only API: every read goes through `integration.care.access` and
writes its access event in the transaction of the read.
"""
