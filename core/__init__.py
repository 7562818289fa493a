"""tcglab core: the machine and the contracts (hook specs, registry, IR, softmmu, run loop).

The core never imports ``plugins``: everything that varies (guest frontends, IR ops beyond
the base table, backends, memory policies) arrives through the hooks in
:mod:`core.hookspecs` and is looked up by name in :mod:`core.registry`.
"""

__version__ = "0.1.0"
