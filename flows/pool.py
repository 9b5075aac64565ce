"""The process pool that the shard tasks of the running flow hand their work to.

A module of its own, read as ``pool.POOL`` at call time: Prefect's runner may load the flow's
module from its file under another name (``serve``, deployments), and a global of that copy
is not the one the flow set.
"""

from concurrent.futures import Executor

POOL: Executor | None = None
