"""Dataplanes: kernel IPVS (pyroute2), a userspace forwarder, and an in-memory recorder."""
