from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lvstui.group import keys
from tests.helpers import REPO


def test_keygen_writes_a_private_credential_that_loads(tmp_path: Path) -> None:
    out = tmp_path / "group.pem"
    with out.open("w") as f:
        subprocess.run(
            [sys.executable, "-m", "lvstui", "group", "keygen"],
            stdout=f,
            check=True,
            cwd=REPO,
            timeout=60,
        )
    assert os.stat(out).st_mode & 0o077 == 0
    cred = keys.load(out)
    assert cred.warning == ""
    text = out.read_text()
    assert text.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" in text
