"""The `vimwatch` command line, built on cliff like the OpenStack clients."""
