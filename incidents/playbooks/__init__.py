"""Playbooks: automated response steps; other apps contribute actions through the registry."""
