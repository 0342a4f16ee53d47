"""Prompts: the exercises a plan turns into prompts on the patient's timeline, and the inbox
where the patient answers them.

`scheduling` is pure time arithmetic; `planning` places a patient's prompts; `timeline` is
the patient's settings for it; `inbox` is what the patient does with a prompt.
"""
