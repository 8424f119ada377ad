"""The engine: owns runtime state, applies commands, publishes snapshots and events."""
