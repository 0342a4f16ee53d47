"""Offline sync: every change of a patient's record after a cursor."""
