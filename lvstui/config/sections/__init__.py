"""The readers of config.toml's sections, one module per section (see `lvstui.config.walk`)."""
