"""What the README tells a new user matches the repository: its paths exist, it points nowhere
outside the repository, the console table lists every console word, and the commands it gives
work from a fresh checkout."""

from __future__ import annotations

import re
import tomllib

from adapters.console.repl import CONSOLE_COMMANDS
from tests.integration.helpers import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_links_and_paths_stay_inside_the_repository() -> None:
    targets = re.findall(r"\]\(([^)]+)\)", README)
    for target in targets:
        assert not target.startswith(("..", "/")), target
        assert "://" in target or (ROOT / target.split("#")[0]).exists(), target
    for path in re.findall(r"`((?:\.\./|\./)?[\w./-]+\.(?:py|md|yml|toml|sql|example))`", README):
        assert not path.startswith(".."), f"{path} is outside the repository"
        assert (ROOT / path).exists(), f"README names {path}, which does not exist"


def test_readme_console_table_lists_every_console_word() -> None:
    table = README.split("### In the console", 1)[1].split("###", 1)[0]
    words = {match.split()[0].lstrip("/") for match in re.findall(r"`([^`]+)`", CONSOLE_COMMANDS)}
    words -= {"history", "cancel", "show"}  # listed with their arguments (`history mine`, …)
    missing = sorted(word for word in words if f"`{word}" not in table and f"`/{word}" not in table)
    assert not missing, f"console words missing from the README table: {missing}"
    assert "`quit`" in table
    assert "`settings`" in table


def test_readme_gives_commands_that_exist_here() -> None:
    assert "make doctor" in README
    assert re.search(r"^doctor:", (ROOT / "Makefile").read_text(), re.M)
    assert not re.search(r"replica|several instances behind", README, re.I)
    assert "partials/" in README


def test_package_metadata_uses_an_spdx_license_and_a_setuptools_that_reads_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    (requirement,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = tuple(int(part) for part in requirement.split(">=")[1].split("."))
    assert minimum >= (77,)  # the first setuptools that accepts `license = "MIT"`
