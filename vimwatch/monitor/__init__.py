"""Probing core: decides, from cheap repeated probes, whether each VIM can be reached.

Kept free of the registry and the API so that it can be driven (and tested) on its own:
the engine feeds it `MonitorSpec`s and receives status changes through one callback.
"""
