"""The therapists' web dashboard: server-rendered, read-only pages over what patients
shared, behind a session sign-in with the TOTP second factor."""
