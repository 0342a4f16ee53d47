"""Treatment sessions: preparation, dosing and integration meetings on the calendar."""
