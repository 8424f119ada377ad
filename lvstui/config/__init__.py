"""Configuration: the typed tree (schema), loading, linting, keepalived.conf import."""
