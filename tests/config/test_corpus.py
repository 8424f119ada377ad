"""Real keepalived.conf files from public projects, held to keepalived's own verdict.

tests/config/corpus/ holds files as their projects publish them (origin and licence in each
file's first two lines, which keepalived reads as comments) and keepalived-t.toml, what
keepalived 2.2.7's `keepalived -t` says of each. Wherever keepalived runs a file, lvstui must
import it, the result must validate, and every directive line must be converted or named in a
note. GAPS is the worklist of files where that does not hold yet; each entry is an expected
failure that turns into a test failure (strict) the day it is fixed, so the list stays true.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from lvstui.config.dump import to_toml_dict
from lvstui.config.keepalived import import_keepalived
from lvstui.config.lint import lint
from lvstui.config.load import load_config_text
from lvstui.errors import ConfigError
from tests.config.kaimport import keepalived_t, silent_lines

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.conf"))
VERDICT: dict[str, str] = tomllib.loads((CORPUS / "keepalived-t.toml").read_text())["verdict"]
# keepalived -t exit status -> its class of verdict (keepalived/core/main.c config_test_exit)
RC_VERDICT = {0: "clean", 5: "warnings", 6: "security", 2: "refused"}
CONFIG_ID = "lb0"

# Files keepalived runs that lvstui does not import yet (issue 13's worklist).
GAPS: dict[str, str] = {}

RUNS = [name for name in FILES if VERDICT.get(name) != "refused"]


def test_corpus_is_big_enough_and_says_where_each_file_is_from() -> None:
    assert len(FILES) >= 40
    assert sorted(VERDICT) == FILES  # every file has keepalived's verdict, and only they
    assert set(VERDICT.values()) <= set(RC_VERDICT.values())
    assert set(GAPS) <= set(RUNS)
    for name in FILES:
        origin, licence = (CORPUS / name).read_text().splitlines()[:2]
        assert origin.startswith("# corpus: "), name
        assert licence.startswith("# licence: "), name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=GAPS[n]) if n in GAPS else ())
        for n in RUNS
    ],
)
def test_lvstui_imports_what_keepalived_runs(name: str) -> None:
    path = CORPUS / name
    result = import_keepalived(path, CONFIG_ID)
    text = tomli_w.dumps(to_toml_dict(result.config))
    lint(load_config_text(text, "imported.toml"))
    silent = silent_lines(path, CONFIG_ID)
    assert not silent, f"lines neither converted nor noted: {silent}"


@pytest.mark.parametrize("name", [n for n in FILES if VERDICT[n] == "refused"])
def test_what_keepalived_refuses_is_an_error_not_a_crash(name: str) -> None:
    try:
        import_keepalived(CORPUS / name, CONFIG_ID)
    except ConfigError as exc:
        assert str(exc)  # names a file and line; any other exception fails the test


@pytest.mark.keepalived
@pytest.mark.root
@pytest.mark.parametrize("name", FILES)
def test_keepalived_verdict_is_recorded_right(name: str, interfaces_netns: str) -> None:
    proc = keepalived_t(interfaces_netns, name, cwd=CORPUS, config_id=CONFIG_ID)
    assert RC_VERDICT.get(proc.returncode) == VERDICT[name], proc.stderr
