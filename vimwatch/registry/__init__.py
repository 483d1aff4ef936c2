"""The database: VIMs, their encrypted credentials, events, and the embedded engine's records."""
