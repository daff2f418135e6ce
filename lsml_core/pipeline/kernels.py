"""The Jupyter kernel manager papermill starts every notebook's kernel with.

Its kernels talk over local IPC sockets instead of TCP (ipykernel warns that TCP traffic is unencrypted),
each kernel's sockets in a fresh folder of the machine's temporary directory (kernels started at the same
moment never share a socket, and none is left in the repository), and it shuts them down without the
SIGINT that jupyter_client sends first (ipykernel answers it with "KeyboardInterrupt caught in kernel"):
the shutdown request alone stops an idle kernel. `kernel_manager_on_threads(n)` is the manager whose kernels
compute with n CPU threads (OpenMP, MKL: what torch and numpy read when they start), set in the kernel's
environment only, so runs of one process may start kernels at once.
"""

import functools
import os
import shutil
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


class QuietKernelManager(AsyncKernelManager):
    """An AsyncKernelManager on IPC sockets of its own whose shutdown does not interrupt the kernel first."""

    threads: int | None = None  # the kernels' CPU threads (None: the libraries' default, every core)

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        return str(Path(tempfile.mkdtemp(prefix="lsml-kernel-")) / "ipc")

    def cleanup_ipc_files(self) -> None:
        super().cleanup_ipc_files()
        shutil.rmtree(Path(self.ip).parent, ignore_errors=True)

    async def _async_interrupt_kernel(self) -> None:
        if not self.shutting_down:
            await super()._async_interrupt_kernel()

    async def _async_pre_start_kernel(self, **kw):
        if self.threads is not None:
            kw["env"] = {**kw.get("env", os.environ), **{name: str(self.threads) for name in THREAD_VARIABLES}}
        return await super()._async_pre_start_kernel(**kw)


@functools.cache
def kernel_manager_on_threads(threads: int | None) -> type[QuietKernelManager]:
    """The kernel manager whose kernels compute with `threads` CPU threads (None: every core)."""
    if threads is None:
        return QuietKernelManager
    return type(f"QuietKernelManager{threads}", (QuietKernelManager,), {"threads": threads})
