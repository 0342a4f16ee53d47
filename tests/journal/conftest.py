"""The journal tests use the shared patients, therapist and clients of tests/conftest.py."""
