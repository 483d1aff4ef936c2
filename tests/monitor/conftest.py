from tests.lab import lab  # noqa: F401  (re-exported fixture)
