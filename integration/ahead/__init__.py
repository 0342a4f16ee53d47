"""The timeline ahead: what the service will ask of a patient and when (upcoming prompts,
dosing sessions and the clinic's preparation reminders)."""
