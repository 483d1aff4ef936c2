"""Each VIM's monitoring as a workflow `vim_id_<id>`, and the backends that run it."""
