"""The control plane: EngineClient (in-process or over the Unix socket) and its server."""
