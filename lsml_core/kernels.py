"""The Jupyter kernel manager papermill starts every notebook's kernel with.

Its kernels talk over local IPC sockets instead of TCP (ipykernel warns that TCP traffic is unencrypted),
and it shuts them down without the SIGINT that jupyter_client sends first (ipykernel answers it with
"KeyboardInterrupt caught in kernel"): the shutdown request alone stops an idle kernel.
"""

from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class QuietKernelManager(AsyncKernelManager):
    """An AsyncKernelManager on IPC sockets whose shutdown does not interrupt the kernel first."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    async def _async_interrupt_kernel(self) -> None:
        if not self.shutting_down:
            await super()._async_interrupt_kernel()
