"""The HTTP API: Tacker's legacy VIM API, a Mistral-compatible read API, health and metrics."""
