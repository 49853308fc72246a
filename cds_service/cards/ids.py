"""Random ids for cards, suggestions and the resources suggestions create."""

from __future__ import annotations

import os

_BATCH = 256  # ids per os.urandom read: one 4 KiB read instead of 256 system calls
# Text of one batch: 256 lines "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx\n". The dashes and the
# version digit 4 are fixed; the 30 random places and the variant V are filled column by
# column from the hex text of the random bytes (one C-level strided copy per column, not
# Python work per id).
_LINE = b"00000000-0000-4000-8000-000000000000\n"
_VARIANT_PLACE = 19
_RANDOM_PLACES = [i for i in range(36) if i not in (8, 13, 14, 18, _VARIANT_PLACE, 23)]
# RFC 4122 variant: the digit's two top bits are 10, so 0-f map onto 8, 9, a, b.
_TO_VARIANT = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")
_ready: list[str] = []


def _batch() -> list[str]:
    digits = os.urandom(16 * _BATCH).hex().encode()  # 32 random hex digits per id
    text = bytearray(_LINE * _BATCH)
    width = len(_LINE)
    for column, place in enumerate(_RANDOM_PLACES):
        text[place::width] = digits[column::32]
    text[_VARIANT_PLACE::width] = digits[30::32].translate(_TO_VARIANT)
    return text.decode().split()


def new_id() -> str:
    """A random version-4 UUID as text, as `str(uuid.uuid4())` gives it (122 random bits).

    Taken from a batch made from one `os.urandom` read. `list.pop` is atomic, so threads
    never share an id; a forked child drops the batch it inherited (else it would hand out
    the parent's ids).
    """
    try:
        return _ready.pop()
    except IndexError:
        _ready.extend(_batch())
        return _ready.pop()


def _forget_inherited() -> None:
    _ready.clear()


os.register_at_fork(after_in_child=_forget_inherited)
