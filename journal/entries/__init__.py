"""Journal entries: intentions, reflections, exercise answers, check-ins, notes (sealed)."""
