"""Every hook specification of tcglab, in the order a run meets them.

Plugins implement these with ``@hookimpl`` (``from core.hookspecs import hookimpl``).
Registration hooks receive a typed :class:`~core.registry.Registry` and call its
``add_*`` methods, as tox's ``tox_register_tox_env(register)`` does; event hooks are
coarse (once per translated TB, once per run), never per instruction or per access:
hot paths do not go through pluggy.

:class:`core.plugins.PluginManager` calls every hook through pluggy's hook relay, with
the arguments positionally by the names below (an implementation may take a subset).
When plugins load, an ``@hookimpl`` whose name is not a spec here is an error naming it
(pluggy's ``check_pending()``; mark a hook another plugin specifies
``optionalhook=True``), and so is a plugin whose ``tcglab_requires`` names a plugin that
is not loaded.  Event hooks accept wrapper implementations (``wrapper=True`` or
``hookwrapper=True``); the hooks that fill a registry (registration, command-line
options) refuse them.  Whatever an implementation
raises reaches the user as one line naming the plugin and the hook (a
:class:`~core.errors.TcglabError` keeps its own message).  docs/writing-a-frontend.md
has the reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .ir import TranslationBlock
    from .machine import Machine, RunResult
    from .registry import Registry

PROJECT = "tcglab"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------- registration
#
# Called in core.plugins.REGISTRATION_HOOKS order, each once per plugin manager; the
# registry credits every name to the plugin whose implementation added it.  No wrappers.


@hookspec
def tcglab_register_ops(registry: "Registry") -> None:
    """Add IR ops to the one op table.

    :param registry: call ``registry.add_op(OpDef(...))`` for each op; the name must be
        new (a duplicate fails naming both plugins) and the OpDef must carry reference
        semantics, so the interpreter can run it and other backends can fall back to it.

    Called once per plugin manager, before frontends are instantiated; no wrappers.  A
    plugin that emits another plugin's ops lists that plugin in ``tcglab_requires``.  The
    return value is ignored.
    """


@hookspec
def tcglab_register_frontends(registry: "Registry") -> None:
    """Add guest frontends (decoders that translate guest code to IR through the builder).

    :param registry: call ``registry.add_frontend(cls)`` with a subclass of
        :class:`core.frontend.Frontend` whose ``name`` is what ``[machine] frontend``
        selects.

    Called once per plugin manager; no wrappers.  A frontend that emits a plugin's ops
    (the ARM and RISC-V frontends emit the ``llsc`` plugin's LL/SC ops) declares
    ``tcglab_requires = ("llsc",)`` in its plugin module, so disabling that plugin fails
    when the plugins load, naming both.  The return value is ignored.
    """


@hookspec
def tcglab_register_backends(registry: "Registry") -> None:
    """Add backends (what executes a TB's IR: interpreter, code generators).

    :param registry: call ``registry.add_backend(cls)`` with a subclass of
        :class:`core.backend.Backend` whose ``name`` is what ``[machine] backend`` selects.

    Called once per plugin manager; no wrappers.  The return value is ignored.
    """


@hookspec
def tcglab_register_memory_policies(registry: "Registry") -> None:
    """Add memory policies (the atomic-emulation strategies behind LL/SC).

    :param registry: call ``registry.add_memory_policy(cls)`` with a subclass of
        :class:`core.memory_policy.MemoryPolicy` whose ``name`` is what
        ``[machine] memory_policy`` selects; its ``Options`` attrs class validates the
        ``[plugins.<name>]`` table.

    Called once per plugin manager; no wrappers.  The return value is ignored.
    """


@hookspec
def tcglab_register_workloads(registry: "Registry") -> None:
    """Add guest workloads that ``tcglab compare`` can run by name.

    :param registry: call ``registry.add_workload(workload)`` with a
        :class:`core.compare.Workload` (name, ELF path, default arguments, budget, and
        the frontend that runs it when that is not the config's).

    Called once per plugin manager; no wrappers.  The return value is ignored.
    """


# --------------------------------------------------------------------------- translation
#
# From here on, event hooks: wrappers (wrapper=True / hookwrapper=True) run around the
# other implementations and see their exceptions, as one-line TcglabErrors, at the yield.


@hookspec
def tcglab_tb_translated(machine: "Machine", tb: "TranslationBlock") -> None:
    """A TB was translated and compiled (once per TB, not per execution).

    :param machine: the machine whose translator produced it.
    :param tb: the new TB, its IR in ``tb.ops`` and backend code in ``tb.compiled``.

    Called only when some plugin implements it (the translator checks once per run);
    wrappers may run around the other implementations.  The return value is ignored.
    """


# --------------------------------------------------------------------------- run


@hookspec
def tcglab_machine_created(machine: "Machine") -> None:
    """A machine was built from a config, before any guest code runs.

    :param machine: the new machine (vCPUs, RAM, policy and backend in place); a plugin
        may map MMIO regions or load images here.

    Wrappers may run around the other implementations.  The return value is ignored.
    """


@hookspec
def tcglab_run_finished(machine: "Machine", result: "RunResult") -> None:
    """A run ended (guest exit, power off, every vCPU off, instruction bound or deadlock).

    Not called when the run stops on a guest error (a fault the guest did not handle):
    that propagates as :class:`core.errors.GuestError`.

    :param machine: the machine that ran.
    :param result: why it stopped, the exit status and the counters.

    Wrappers may run around the other implementations.  The return value is ignored.
    """


# --------------------------------------------------------------------------- command line

if TYPE_CHECKING:
    from .cli.flags import CliOptionRegistry


@hookspec
def tcglab_register_cli_options(registry: "CliOptionRegistry") -> None:
    """Add command-line options that set config keys (pytest's ``pytest_addoption``).

    :param registry: call ``registry.add_option(flag, key, kind=..., metavar=...,
        help=...)``, e.g. ``registry.add_option("--semihosting-root",
        "plugins.arm.semihosting_root", metavar="DIR", help="...")``: ``--semihosting-root
        DIR`` then does what ``--set plugins.arm.semihosting_root=DIR`` does, after
        ``--config`` and ``--set``, and errors name the flag.

    Called before a command line is parsed, on the plugins the config leaves enabled
    (the early read of ``--config``/``--set`` that decides which those are may call it
    once more): ``tcglab run``, ``trace`` and ``compare`` take the options, and
    ``--help`` lists them.  A flag that core or another plugin already has is an error
    naming both.  Like the registration hooks it refuses wrappers.  The return value is
    ignored.
    """
