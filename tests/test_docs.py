"""The front door and the floor plan: README stays short, every relative link in README and
docs/ resolves (mkdocs cannot check links to the code), and every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from config.settings import Settings
from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, as GitHub and MkDocs make them."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.MULTILINE):
        text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
        found.add(text.replace(" ", "-"))
    return found


def test_the_readme_is_a_front_door() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 250
    assert len(PAGES) - 1 >= 5


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name} links to a missing anchor: {target}"


def test_every_setting_is_in_the_reference() -> None:
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [
        f"{section}.{key}"
        for section, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        for key in field.annotation.model_fields
        if f"`{section}.{key}`" not in reference
    ]
    assert missing == [], f"not in docs/configuration.md: {missing}"
