"""Availability: a VIM's status history, with maintenance left out, turned into answers."""
