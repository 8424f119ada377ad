"""The README is the front door and docs/ holds the manual: every docs page is reachable from
the README's "Read on" index, no relative link (file or #anchor) points at nothing, and every
`$ lvstui ...` example is a command line the parser accepts."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from lvstui.cli import build_parser
from tests.helpers import REPO

README_MAX_LINES = 250

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and [text](target "title"); images too (the leading ! does not matter)
_LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def prose(text: str) -> str:
    """The text without fenced blocks, so `# comment` lines and `](` in code are not read."""
    return _FENCE.sub("", text)


def links(text: str) -> list[str]:
    return _LINK.findall(_CODE.sub("", prose(text)))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.lower().replace("`", "")
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    out: set[str] = set()
    seen: dict[str, int] = {}
    for h in _HEADING.findall(prose(text)):
        s = slug(h)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")  # GitHub numbers repeated headings
    return out


def broken_links(page: Path) -> list[str]:
    """Each relative link of `page` whose file, or #anchor in a markdown file, is missing."""
    bad = []
    text = page.read_text(encoding="utf-8")
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{page.name}: {target}: no such file")
        elif (
            anchor
            and dest.suffix == ".md"
            and anchor not in anchors(dest.read_text(encoding="utf-8"))
        ):
            bad.append(f"{page.name}: {target}: no heading with that anchor")
    return bad


def read_on(readme: str) -> str:
    """The README's "Read on" section: from its heading to the next level-2 heading."""
    m = re.search(r"^## Read on[ \t]*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert m is not None, 'README.md has no "## Read on" section'
    return m.group(1)


def unindexed(repo: Path) -> list[str]:
    linked = {
        (repo / t.partition("#")[0]).resolve()
        for t in links(read_on((repo / "README.md").read_text(encoding="utf-8")))
    }
    return sorted(p.name for p in (repo / "docs").glob("*.md") if p.resolve() not in linked)


def pages(repo: Path) -> list[Path]:
    return [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]


def test_readme_is_a_front_door() -> None:
    n = len((REPO / "README.md").read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines: the manual goes in docs/<topic>.md"


def test_every_docs_page_is_in_the_read_on_index() -> None:
    missing = unindexed(REPO)
    assert not missing, f'link these from README.md\'s "Read on" section: {missing}'


@pytest.mark.parametrize("page", pages(REPO), ids=lambda p: p.name)
def test_relative_links_point_at_something(page: Path) -> None:
    assert not broken_links(page)


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    """The checkers above on a small tree with one of each fault: they must report them."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(
        "# A page\n\n## Reload (SIGHUP, `lvstui ctl reload`)\n\n"
        "[ok](b.md#b-title) [gone](nope.md) [bad anchor](b.md#nothing) "
        "[here](#reload-sighup-lvstui-ctl-reload) [web](https://example.org/x.md)\n"
        "```\n[in code](missing.md)\n# not a heading\n```\n",
        encoding="utf-8",
    )
    (tmp_path / "docs" / "b.md").write_text("# B title\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "# r\n\n## Read on\n\n- [a](docs/a.md)\n\n## Other\n\n[b](docs/b.md)\n",
        encoding="utf-8",
    )
    assert broken_links(tmp_path / "docs" / "a.md") == [
        "a.md: nope.md: no such file",
        "a.md: b.md#nothing: no heading with that anchor",
    ]
    assert unindexed(tmp_path) == ["b.md"]  # linked, but not from "Read on"
    assert "not-a-heading" not in anchors((tmp_path / "docs" / "a.md").read_text())


def _examples(text: str) -> list[str]:
    """`$ lvstui ...` lines of the fenced blocks: commands shown as typed at a prompt."""
    out = []
    for m in re.finditer(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", text, re.M | re.S):
        out += [ln[2:] for ln in m.group(2).splitlines() if ln.startswith("$ lvstui ")]
    return out


def _parses(line: str) -> str:
    """'' when the real argument parser takes the example, else argparse's complaint."""
    argv = shlex.split(line, comments=True)[1:]
    for i, word in enumerate(argv):  # a shell redirection or pipe ends the command
        if word in (">", ">>", "|"):
            argv = argv[:i]
            break
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            build_parser().parse_args(argv)
    except SystemExit:
        return err.getvalue().strip().splitlines()[-1]
    return ""


@pytest.mark.parametrize("page", pages(REPO), ids=lambda p: p.name)
def test_command_examples_are_accepted_by_the_parser(page: Path) -> None:
    examples = _examples(page.read_text(encoding="utf-8"))
    bad = {line: why for line in examples if (why := _parses(line))}
    assert not bad, f"{page.name}: examples the CLI rejects: {bad}"


def test_the_example_check_rejects_a_wrong_command() -> None:
    text = "```\n$ lvstui ctl drian 192.0.2.1:80 192.0.2.2:80\n$ lvstui list --stats\n```\n"
    assert _examples(text) == ["lvstui ctl drian 192.0.2.1:80 192.0.2.2:80", "lvstui list --stats"]
    assert "invalid choice" in _parses(_examples(text)[0])
    assert _parses(_examples(text)[1]) == ""
    assert len(_examples((REPO / "README.md").read_text(encoding="utf-8"))) >= 8
