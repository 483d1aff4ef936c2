"""Operations read top to bottom: each calls the registry, secrets, driver and backend by name."""
