"""No `.in_(<list>)` in aime/: a list of values renders one SQL text per length, and each connection keeps its
last 128 (sqlite3) or 100 (psycopg) prepared statements, so a worker's memory grew with every new length (the soak
test of tests/resilience/test_gunicorn_load.py). Lists go through aime/services/sql_lists.py (one bound value);
`.in_(select(...))` and constant tuples keep one text and stay as they are.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.support.servers import ROOT

_IN = {"in_", "not_in", "notin_"}
# Arguments whose text does not vary: each named with why.
ALLOWED = {
    ("aime/services/artists.py", "credited"): "a select",
    ("aime/services/artists.py", "heard"): "a select",
    ("aime/services/history.py", "ids"): "a scalar subquery",
    ("aime/jobs/imports.py", "UNFINISHED"): "a constant tuple",
    ("aime/services/collection_queries.py", "VINYL if wanted in VINYL else (wanted,)"): "a constant tuple or one",
    ("aime/services/sql_lists.py", "select(literal_column('value')).select_from(func.json_each(json.dumps(values)))"):
        "the helper itself: a select",
}


def _a_select(node: ast.expr) -> bool:
    """A `select(...)` call, possibly followed by `.where(...)`, `.subquery()` and the like."""
    while isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id == "select"
        if not isinstance(node.func, ast.Attribute):
            return False
        node = node.func.value
    return False


def _constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple | ast.List) and all(isinstance(e, ast.Constant) for e in node.elts)


def unbounded(path: str, source: str) -> list[str]:
    """`path:line: argument` of every `.in_(...)` or expanding bindparam whose SQL text may vary with a length."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in _IN and node.args:
            arg = node.args[0]
            if not (_a_select(arg) or _constant(arg) or (path, ast.unparse(arg)) in ALLOWED):
                found.append(f"{path}:{node.lineno}: .{node.func.attr}({ast.unparse(arg)})")
        if any(k.arg == "expanding" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
               for k in node.keywords):
            found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_list_of_values_in_an_in_clause_in_aime():
    found = []
    for file in sorted((ROOT / "aime").rglob("*.py")):
        path = file.relative_to(ROOT).as_posix()
        found += unbounded(path, file.read_text())
    assert found == [], "use aime.services.sql_lists.one_of / among for lists of values"


def test_the_guard_tells_a_list_from_a_select_or_a_constant():
    source = """
q = select(T.id).where(T.id.in_(ids), T.a.in_([x.id for x in rows]), T.b.not_in(set(keys)))
q = select(T.id).where(T.id.in_(select(U.id).where(U.ok)), T.c.in_(("a", "b")), one_of(T.id, ids))
s = text("SELECT 1 WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
"""
    assert unbounded("aime/x.py", source) == [
        "aime/x.py:2: .in_(ids)", "aime/x.py:2: .in_([x.id for x in rows])", "aime/x.py:2: .not_in(set(keys))",
        "aime/x.py:4: bindparam('ids', expanding=True)"]


def test_every_allowed_argument_is_still_there():
    for path, argument in ALLOWED:
        source = Path(ROOT / path).read_text()
        assert any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _IN
                   and n.args and ast.unparse(n.args[0]) == argument for n in ast.walk(ast.parse(source))), path
