"""The care layer: exercises, plans, prompts, care links, shares, access events."""
