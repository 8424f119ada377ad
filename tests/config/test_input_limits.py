"""Bounded input (issue 10, item 7): /dev/zero, an include of it, an overrides.toml linked
to it, a 20 MiB string, deep nesting: each a clear ConfigError, never a MemoryError, a
RecursionError trace or half a minute of parsing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lvstui.cli import main
from lvstui.config.keepalived import import_keepalived
from lvstui.config.keepalived.reader import tokenize
from lvstui.config.limits import MAX_DEPTH, MAX_FILE_BYTES, ReadBudget, parse_toml, read_limited
from lvstui.config.load import ConfigErrors, load_config, load_config_text
from lvstui.config.state import StateFile
from lvstui.errors import ConfigError

DEV_ZERO = Path("/dev/zero")
needs_dev_zero = pytest.mark.skipif(not DEV_ZERO.exists(), reason="no /dev/zero")


@needs_dev_zero
def test_check_config_of_dev_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-f", str(DEV_ZERO)]) == 2
    err = capsys.readouterr().err
    assert "not a regular file, and larger than 8 MiB: not a configuration file" in err
    assert "Traceback" not in err


def test_a_20_mib_string_is_refused_before_parsing(tmp_path: Path) -> None:
    f = tmp_path / "big.toml"
    with f.open("w") as out:
        out.write('[global_defs]\nrouter_id = "')
        out.write("x" * (20 << 20))
        out.write('"\n')
    with pytest.raises(ConfigError, match=r"20 MiB, larger than 8 MiB"):
        load_config(f)


def test_a_file_that_grows_past_the_limit_is_cut_off(tmp_path: Path) -> None:
    f = tmp_path / "fifo.toml"
    os.mkfifo(f)
    pid = os.fork()
    if pid == 0:  # the writer: more than the limit, then gone
        try:
            with f.open("wb") as out:
                chunk = b"# comment\n" * 100_000
                for _ in range(MAX_FILE_BYTES // len(chunk) + 2):
                    out.write(chunk)
        except BrokenPipeError:
            pass
        finally:
            os._exit(0)
    try:
        with pytest.raises(ConfigError, match="not a regular file"):
            read_limited(f)
    finally:
        os.waitpid(pid, 0)


def test_deep_nesting_is_an_error_with_a_line() -> None:
    deep = "[global_defs]\nrouter_id = 'a'\nx = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ConfigErrors) as info:
        load_config_text(deep, "deep.toml")
    assert info.value.line == 3
    assert f"nested more than {MAX_DEPTH} deep" in str(info.value)
    # just inside the bound: parsed (then the schema has its say about the key)
    ok = parse_toml("x = " + "[" * MAX_DEPTH + "]" * MAX_DEPTH, "ok.toml")
    assert "x" in ok
    inline = "y = " + "{a = " * 40 + "1" + "}" * 40
    with pytest.raises(ConfigError, match="nested more than"):
        parse_toml(inline, "inline.toml")


def test_brackets_in_strings_and_comments_do_not_count() -> None:
    text = 'a = "' + "[" * 100 + '"\n# ' + "{" * 100 + "\nb = '" + "[[[" * 50 + "'\n"
    assert parse_toml(text, "s.toml") == {"a": "[" * 100, "b": "[[[" * 50}


@needs_dev_zero
def test_keepalived_include_of_dev_zero(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(f"global_defs {{\n  router_id a\n}}\ninclude {DEV_ZERO}\n")
    with pytest.raises(ConfigError, match="larger than 8 MiB") as info:
        import_keepalived(conf)
    assert info.value.file == str(DEV_ZERO)


def test_keepalived_includes_share_one_budget(tmp_path: Path) -> None:
    for i in range(4):
        (tmp_path / f"part{i}.conf").write_text("# " + "x" * 400 + "\n")
    text = f"include {tmp_path}/part*.conf\n"
    assert tokenize(text, str(tmp_path / "k.conf"), budget=ReadBudget(total=5000)) == []
    with pytest.raises(ConfigError, match="add up to more than"):
        tokenize(text, str(tmp_path / "k.conf"), budget=ReadBudget(total=1000))


@needs_dev_zero
def test_overrides_linked_to_dev_zero_are_set_aside(tmp_path: Path) -> None:
    (tmp_path / "overrides.toml").symlink_to(DEV_ZERO)
    state = StateFile(tmp_path)
    with pytest.raises(ConfigError, match="larger than 8 MiB"):
        state.load()
    report = state.load_tolerant(wall=1_764_000_000.0)
    assert report.overrides.is_empty()
    assert "larger than 8 MiB" in report.error
    assert not (tmp_path / "overrides.toml").exists()  # the link moved aside
    assert report.moved_to is not None and report.moved_to.is_symlink()


def test_deep_overrides_are_set_aside(tmp_path: Path) -> None:
    (tmp_path / "overrides.toml").write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    report = StateFile(tmp_path).load_tolerant(wall=1_764_000_000.0)
    assert "nested more than" in report.error
    assert report.moved_to is not None and report.moved_to.exists()
