"""Import boundaries between the library's parts, read from the source with ast (README, "How it fits
together").

The library (``metrics``) never imports the application (``jobs``); the store never imports extraction
or alerting; extraction and alerting never import each other; the top-level errors, log and settings
import no subpackage. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
FOUNDATION = ("metrics.errors", "metrics.log", "metrics.settings")
# what each part of the library may import of the project (besides itself); the longest prefix applies
ALLOWED: dict[str, tuple[str, ...]] = {
    "metrics.errors": FOUNDATION,
    "metrics.log": FOUNDATION,
    "metrics.settings": FOUNDATION,
    "metrics.store": ("metrics.store", *FOUNDATION),
    "metrics.extraction": ("metrics.extraction", "metrics.store", *FOUNDATION),
    "metrics.alerting": ("metrics.alerting", "metrics.store", *FOUNDATION),
    "metrics": ("metrics",),  # metrics/__init__.py: the public API re-exports every part
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, *, package: bool = False) -> set[str]:
    """The project modules (``metrics``, ``jobs``) that ``source`` imports, relative ones resolved."""
    base = module.split(".") if package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            stem = ".".join([*base[: len(base) - node.level + 1], node.module or ""]) if node.level else ""
            target = (stem.rstrip(".") if node.level else node.module) or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in ("metrics", "jobs")}


def violations(module: str, targets: set[str]) -> list[str]:
    """The imports of ``module`` its part may not make, each with the part's rule."""
    part = max((p for p in ALLOWED if module == p or module.startswith(p + ".")), key=len, default=None)
    if part is None:
        return [] if module.startswith("jobs") else [f"{module}: belongs to no declared part"]
    out = []
    for target in sorted(targets):
        if part != "metrics" and target == "metrics":
            out.append(f"{module} imports the public API package 'metrics' (import the module itself)")
        elif not any(target == a or target.startswith(a + ".") for a in ALLOWED[part]):
            out.append(f"{module} imports {target}: {part} may import only {', '.join(ALLOWED[part])}")
    return out


def project_imports() -> dict[str, set[str]]:
    out = {}
    for path in sorted([*PROJECT.glob("metrics/**/*.py"), *PROJECT.glob("jobs/**/*.py")]):
        name = module_name(path)
        out[name] = imports(path.read_text(encoding="utf-8"), name, package=path.name == "__init__.py")
    return out


def test_every_library_part_imports_only_what_it_may() -> None:
    """No module of metrics/ imports jobs/, nor a part of the library its part may not import."""
    found = project_imports()
    assert "metrics.store.pit" in found["metrics.alerting.backtest"]  # the reader sees real imports
    problems = [v for module, targets in found.items() for v in violations(module, targets)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_each_forbidden_direction() -> None:
    """Each boundary, crossed in a made-up module, is reported (relative and lazy imports included)."""
    crossings = {
        "metrics.store.tables": "from metrics.alerting.rules import Rule",
        "metrics.store.prices.files": "from ...extraction import numbers",
        "metrics.extraction.ingest": "def f():\n    import metrics.alerting.tick",
        "metrics.alerting.tick": "from metrics.extraction.entities import Registry",
        "metrics.settings": "from metrics.store import schema",
        "metrics.alerting.evaluate": "from jobs.cli import app",
        "metrics.alerting.series": "from metrics import Store",
    }
    for module, source in crossings.items():
        assert violations(module, imports(source, module)), (module, source)
    allowed = "from ..store import tables"
    assert not violations("metrics.alerting.tick", imports(allowed, "metrics.alerting.tick"))
