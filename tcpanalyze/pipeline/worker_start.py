"""What the fork server of worker processes imports before it forks any (``partitions``):
the analysis, and the compiled kernels when this machine has them, so that every worker
starts with them loaded instead of loading them again (half a second each)."""

from .. import jit
from . import partitions  # noqa: F401  (the workers' code, imported once here)

jit.load_if_compiled()
