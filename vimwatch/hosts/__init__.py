"""The processes' parts that host monitors: they join the probing core (`monitor`) to the
registry, the transport and the conductor.

`engine` is the native host (its leases come from the registry); `mistral_action` and
`mistral_runtime` host the same monitors inside Mistral's executors. The process roles
that start an engine live in `roles`.
"""
