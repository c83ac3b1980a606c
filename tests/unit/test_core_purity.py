"""The core must stay platform-neutral: nothing under bot/ may import a chat platform SDK."""

import ast
from pathlib import Path

FORBIDDEN = ("discord", "slack_bolt", "slack_sdk", "adapters")
CORE = Path(__file__).resolve().parents[2] / "bot"


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_no_platform_sdk():
    files = sorted(CORE.rglob("*.py"))
    assert files, "bot/ has no modules"
    offenders = {str(p.relative_to(CORE.parent)): sorted(imported_roots(p) & set(FORBIDDEN)) for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}
