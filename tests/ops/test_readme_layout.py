"""The README's Layout draws the package as it is: every folder of aime/ holding code, and none that is gone."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def test_every_subpackage_of_aime_is_in_the_layout_and_nothing_else():
    packages = {path.parent.name for path in (ROOT / "aime").glob("*/*.py")}
    block = _layout_block()
    inside_aime = block.split("aime/\n", 1)[1].split("\nmigrations/", 1)[0]
    drawn = set(re.findall(r"^ {2}(\w+)/", inside_aime, re.M))
    assert drawn == packages
