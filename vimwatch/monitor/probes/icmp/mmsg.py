"""The C structures of recvmmsg and sendmmsg, and finding those calls in libc.

Python's socket module offers neither call; the batch reader and the burst sender reach
them through ctypes, and both need the same message layout.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_void_p),
        ("namelen", ctypes.c_uint32),
        ("iov", ctypes.POINTER(Iovec)),
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    ]


class Mmsghdr(ctypes.Structure):
    _fields_ = [("header", Msghdr), ("length", ctypes.c_uint)]


#: A libc function as ctypes calls it: C arguments in, the C int it returns out.
LibcCall = Callable[..., int]


def libc_call(name: str, argtypes: list[type]) -> LibcCall | None:
    """libc's `name` returning an int and keeping errno, or None where libc lacks it."""
    try:
        call: ctypes._NamedFuncPointer = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    call.argtypes = argtypes
    call.restype = ctypes.c_int
    return call
