"""MkDocs hook: links from a docs page to a repository file outside ``docs/`` work on GitHub and on the site.

A page links a result file or an example the way GitHub reads it, relative to the page
(``../../benchmarks/results/env_throughput.json`` from ``docs/benchmarks/throughput.md``). MkDocs only knows
``docs/``, so this hook copies each such file into the site at its repository path
(``benchmarks/results/env_throughput.json``) and points the link there. A link to a repository folder (GitHub
lists it; the site has no page for it) becomes its text on the site. A link to a Markdown file outside ``docs/``,
or to something missing, stops the build.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCS = "docs"
# [text](target) and ![alt](target); a target has no spaces and no closing parenthesis.
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


class RepoLinkError(ValueError):
    """A page links something outside ``docs/`` that the site cannot show."""


def _prose(markdown: str) -> Iterator[tuple[bool, str]]:
    """The text in pieces, each flagged True outside fenced code (where links are links)."""
    pieces = re.split(r"(^[ \t]*(?:```|~~~).*?^[ \t]*(?:```|~~~)[^\n]*$)", markdown, flags=re.MULTILINE | re.DOTALL)
    for index, piece in enumerate(pieces):
        yield index % 2 == 0, piece


def repo_path(page_uri: str, target: str) -> str | None:
    """The repository path a link target names when it leaves ``docs/``, else None (a page, a URL, an anchor).

    A folder's path ends with ``/``.
    """
    if "://" in target or target.startswith(("#", "/", "mailto:")):
        return None
    path = target.split("#")[0]
    resolved = posixpath.normpath(posixpath.join(DOCS, posixpath.dirname(page_uri), path))
    if resolved == DOCS or resolved.startswith(DOCS + "/"):
        return None
    if resolved.startswith("../"):
        raise RepoLinkError(f"docs/{page_uri}: the link {target!r} leaves the repository")
    file = ROOT / resolved
    if file.is_dir():
        return resolved + "/"
    if not file.is_file():
        raise RepoLinkError(f"docs/{page_uri}: the link {target!r} names {resolved}, which does not exist")
    if file.suffix == ".md":
        raise RepoLinkError(f"docs/{page_uri}: the link {target!r} names a Markdown file outside docs/; link its page")
    return resolved


def linked_repo_files(page_uri: str, markdown: str) -> set[str]:
    """The repository files outside ``docs/`` that a page links to."""
    found = set()
    for is_prose, piece in _prose(markdown):
        if is_prose:
            for match in LINK.finditer(piece):
                path = repo_path(page_uri, match.group(2))
                if path is not None and not path.endswith("/"):
                    found.add(path)
    return found


def site_links(page_uri: str, markdown: str) -> str:
    """The page with each link to a repository file pointed at that file's copy in the site."""

    def retarget(match: re.Match) -> str:
        target = match.group(2)
        path = repo_path(page_uri, target)
        if path is None:
            return match.group(0)
        if path.endswith("/"):
            if match.group(1).startswith("!"):
                raise RepoLinkError(f"docs/{page_uri}: the image {target!r} names a folder")
            return match.group(1)[1:-2]  # the link's text alone
        fragment = target[len(target.split("#")[0]) :]
        return (
            f"{match.group(1)}{posixpath.relpath(path, posixpath.dirname(page_uri) or '.')}{fragment}{match.group(3)}"
        )

    return "".join(LINK.sub(retarget, piece) if is_prose else piece for is_prose, piece in _prose(markdown))


# MkDocs events ---------------------------------------------------------------------------------------------------


def on_files(files: Any, config: Any) -> Any:
    """Copy every repository file a page links to into the site, at its repository path."""
    from mkdocs.structure.files import File

    wanted: set[str] = set()
    for file in list(files):
        if file.is_documentation_page() and not file.generated_by:
            wanted |= linked_repo_files(file.src_uri, file.content_string)
    for path in sorted(wanted):
        if files.get_file_from_path(path) is None:
            files.append(File.generated(config, path, abs_src_path=str(ROOT / path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return site_links(page.file.src_uri, markdown)
