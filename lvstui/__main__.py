"""`python -m lvstui` is the same as the `lvstui` console script."""

from __future__ import annotations

from lvstui.cli import main

raise SystemExit(main())
