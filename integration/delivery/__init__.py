"""Delivery: push devices and sending due prompts to them through the providers."""
