"""Settings shared by the whole suite."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Property tests run beside namespace labs and UML guests on a 2-core CI machine: generating
# inputs can be slow there for reasons that say nothing about the code under test, so no
# per-example deadline and no "generation is slow" health check. Each test's own @settings
# (max_examples …) still applies on top of this profile.
settings.register_profile(
    "lvstui",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("lvstui")
