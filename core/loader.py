"""ELF loading with pyelftools: PT_LOAD segments copied into guest RAM.

Every way a file can be wrong is a one-line :class:`~core.errors.TcglabError` naming the
file: not there, not an ELF, truncated, the wrong machine or class, or a segment that
falls outside RAM.
"""

from __future__ import annotations

import io
from pathlib import Path

from attrs import define
from elftools.elf.elffile import ELFFile

from .errors import TcglabError
from .softmmu import SystemMemory


class LoaderError(TcglabError):
    exit_code = 2


@define(frozen=True)
class LoadedImage:
    path: str
    entry: int
    segments: tuple[tuple[int, int, int], ...]  # (vaddr, filesz, memsz)
    symbols: dict


def elf_identity(path: str | Path) -> tuple[str, int] | None:
    """``(e_machine, class)`` of the ELF file ``path`` (e.g. ``("EM_RISCV", 32)``), or None
    when it is not a readable ELF file.  Lets a caller pick the frontend for a program."""
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            return elf["e_machine"], elf.elfclass
    except Exception:  # not there, not an ELF, truncated: load_elf says which
        return None


def load_elf(path: str | Path, memory: SystemMemory, *, machine: str | None = None,
             elfclass: int | None = None) -> LoadedImage:
    """Load ``path``'s PT_LOAD segments into ``memory``; returns the loaded image.

    ``machine``/``elfclass``: the ELF ``e_machine`` and class to accept; by default the
    ones of ``memory``'s guest (``SystemMemory.elf_machine``/``elf_class``, which the
    machine sets from its frontend), so one loader serves every guest.
    """
    name = str(path)
    machine = machine if machine is not None else memory.elf_machine
    elfclass = elfclass if elfclass is not None else memory.elf_class
    if machine is None:
        raise TypeError("load_elf: no ELF machine to check against: pass machine= or use "
                        "a SystemMemory that names its guest's (elf_machine)")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise LoaderError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if data[:4] != b"\x7fELF":
        raise LoaderError(f"{name}: not an ELF file (no \\x7fELF magic)")
    try:
        elf = ELFFile(io.BytesIO(data))
        if elf["e_machine"] != machine:
            raise LoaderError(f"{name}: ELF for {elf['e_machine']}, expected {machine}")
        if elf.elfclass != elfclass:
            raise LoaderError(f"{name}: {elf.elfclass}-bit ELF, expected {elfclass}-bit")
        if not elf.little_endian:
            raise LoaderError(f"{name}: big-endian ELF, expected little-endian")
        segments = []
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            vaddr, filesz, memsz = seg["p_paddr"], seg["p_filesz"], seg["p_memsz"]
            offset = seg["p_offset"]
            if filesz > memsz:
                raise LoaderError(f"{name}: segment at {vaddr:#010x} has p_filesz {filesz:#x} "
                                  f"larger than p_memsz {memsz:#x}")
            if offset + filesz > len(data):
                raise LoaderError(f"{name}: truncated: segment at {vaddr:#010x} needs file bytes "
                                  f"{offset:#x}..{offset + filesz:#x}, file has {len(data):#x}")
            block = memory.ram_list.find(vaddr)
            if block is None or vaddr + memsz > block.base + block.size:
                ram = ", ".join(f"{b.base:#010x}..{b.base + b.size:#010x}"
                                for b in memory.ram_list.blocks)
                raise LoaderError(f"{name}: segment {vaddr:#010x}..{vaddr + memsz:#010x} "
                                  f"falls outside RAM ({ram})")
            segments.append((vaddr, filesz, memsz, data[offset:offset + filesz]))
        if not segments:
            raise LoaderError(f"{name}: no PT_LOAD segment to load")
        symbols = {}
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.iter_symbols():
                if sym.name:
                    symbols[sym.name] = sym["st_value"]
        entry = elf["e_entry"]
    except LoaderError:
        raise
    except Exception as exc:  # pyelftools raises many types on a damaged file
        raise LoaderError(f"{name}: malformed or truncated ELF: {exc}") from None
    for vaddr, filesz, memsz, payload in segments:
        memory.write_bytes(vaddr, payload + bytes(memsz - filesz))
    return LoadedImage(name, entry, tuple((v, f, m) for v, f, m, _ in segments), symbols)
