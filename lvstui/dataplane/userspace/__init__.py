"""The userspace forwarder: asyncio TCP/UDP relaying with the kernel's schedulers."""
