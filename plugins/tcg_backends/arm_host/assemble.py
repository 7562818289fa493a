"""Keystone: TB text -> bytes, cached by text (identical TBs assemble once per process).

TB code is position independent (see :mod:`.codegen`), so the bytes do not depend on
where the code is placed and the cache can be shared by every machine.  The text must
not contain ``.text`` (keystone 0.9.2 crashes on it); the TB header has none.
"""

from __future__ import annotations

from collections import OrderedDict

_CACHE: "OrderedDict[str, bytes]" = OrderedDict()
_CACHE_MAX = 8192


class Assembler:
    """One keystone instance (imported lazily: the backend module imports without it)."""

    def __init__(self) -> None:
        from keystone import KS_ARCH_ARM, KS_MODE_ARM, Ks
        self.ks = Ks(KS_ARCH_ARM, KS_MODE_ARM)
        self.hits = 0

    def assemble(self, text: str, size: int, addr: int = 0) -> bytes:
        """The bytes of ``text``; ``size`` is what the emitter counted (checked)."""
        key = text if addr == 0 else f"{addr:#x}\n{text}"
        code = _CACHE.get(key)
        if code is not None:
            _CACHE.move_to_end(key)
            self.hits += 1
            return code
        from keystone import KsError
        try:
            encoding, _count = self.ks.asm(text, addr)
        except KsError as exc:
            raise RuntimeError(f"backend arm-host: keystone rejected the generated code "
                               f"({exc}):\n{text}") from None
        code = bytes(encoding or b"")
        if len(code) != size:
            raise RuntimeError(f"backend arm-host: assembled {len(code)} bytes where "
                               f"{size} were counted:\n{text}")
        _CACHE[key] = code
        if len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
        return code
