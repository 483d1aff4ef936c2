"""Credentials encrypted at rest, with the keys kept outside the database."""
