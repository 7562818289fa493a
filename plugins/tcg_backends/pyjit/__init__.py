"""The ``pyjit`` backend: each TB compiled once to a Python function, for speed.

QEMU's native backends turn a TB's IR into host code; this one turns it into Python
source, compiled once and cached on the TB, so that guest registers live in local
variables, constants are folded, flags are computed only where something reads them,
the softmmu fast path is a few inline lines, and chained TBs (a loop in particular)
run without going back through the dispatcher.  It gives the interpreter's results
exactly; only the speed differs.

Modules, one job each:

* :mod:`.steps`     what each IR op becomes (native lowering, inline TLB, or a call of its
                    reference semantics), and the generated names;
* :mod:`.lower`     the core ops' semantics as Python expressions;
* :mod:`.analysis`  what each step does to dirty globals and liveness over a compilation
                    unit (the blocks and fixed points are core.flow's);
* :mod:`.fuse`      single-use temps joined into the expression that reads them;
* :mod:`.sink`      values only exits read computed on exit paths only;
* :mod:`.codegen`   the source of the generated function;
* :mod:`.peephole`  adjacent assignments merged in the final source;
* :mod:`.flags`     knowing the TB flags unchanged without calling ``tb_flags`` each jump;
* :mod:`.region`    hot loops of chained TBs gathered into one unit;
* :mod:`.tier0`     a TB's first runs, op by op, before compiling it pays;
* :mod:`.backend`   compile/execute: the tiers, the cache on the TB, the chaining loop;
                    ``[plugins.pyjit]`` options.
"""

from core.hookspecs import hookimpl

from .backend import CompiledTB, PyJitBackend


@hookimpl
def tcglab_register_backends(registry) -> None:
    registry.add_backend(PyJitBackend)


__all__ = ["PyJitBackend", "CompiledTB"]
