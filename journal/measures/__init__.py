"""Measures: PHQ-9 and GAD-7, scored and banded (`instruments` holds the questionnaires)."""
