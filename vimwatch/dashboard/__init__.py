"""The live dashboard: its queries, the feed of new events, and its static page."""
