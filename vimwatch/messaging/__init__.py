"""How vimwatch's processes talk: conductor RPC calls and kill casts.

One interface (`base.Transport`), one implementation per transport; configuration picks
one at start-up and nothing else asks which it holds.
"""
