"""Workflow backends: where each VIM's monitoring workflow lives and runs."""
