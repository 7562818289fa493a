"""The ARM A32 guest frontend plugin: registers :class:`ArmFrontend` as ``arm``.

Modules, one job each: ``cpu`` (state layout, CPSR and mode banking), ``decode`` (the
encoding tables), ``translate`` (per-TB state and shared generators),
``translate_dp`` / ``translate_mem`` / ``translate_branch`` / ``translate_sys`` /
``translate_media`` (one per instruction class), ``helpers`` (host helpers), ``disas``
(text for trace), ``frontend`` (the Frontend contract).
"""

from __future__ import annotations

from core.hookspecs import hookimpl

from .frontend import ArmFrontend

#: LDREX/STREX and friends are the llsc plugin's ops (``qemu_ldlink_*``/``qemu_stcond_*``):
#: without it the frontend could not translate them, so disabling llsc alone is an error
#: when the plugins load, naming both (see core.plugins.REQUIRES).
tcglab_requires = ("llsc",)


@hookimpl
def tcglab_register_frontends(registry) -> None:
    registry.add_frontend(ArmFrontend)


@hookimpl
def tcglab_register_workloads(registry) -> None:
    from .workloads import WORKLOADS  # the bundled guest programs (ELFs built from source)

    for workload in WORKLOADS.values():
        registry.add_workload(workload)


@hookimpl
def tcglab_register_cli_options(registry) -> None:
    registry.add_option("--semihosting-root", "plugins.arm.semihosting_root", metavar="DIR",
                        help="directory the guest may open files in (default: none, host "
                             "files refused)")


__all__ = ["ArmFrontend"]
