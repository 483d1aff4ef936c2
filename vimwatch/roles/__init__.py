"""The processes vimwatch runs as: api (optionally with everything embedded), conductor, engine."""
