"""The README's "Bring your own Excel file" commands run as written, on the shipped example."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from casekit.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LEDGER = ROOT / "data" / "信访台账示例.xlsx"
sys.path.insert(0, str(ROOT / "scripts"))
import make_example_ledger


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def readme_commands(title: str = "Bring your own Excel file") -> list[list[str]]:
    """The ``casekit ...`` commands of the section's first bash block, continuations joined."""
    block = re.search(r"```bash\n(.*?)```", _section(title), re.DOTALL)
    assert block, f"no bash block under '## {title}'"
    joined = re.sub(r"\\\n\s*", " ", block.group(1))
    lines = [line.split("#")[0].strip() for line in joined.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("casekit ")]


def _run(argv: list[str], folder: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.chdir(folder)
    assert argv[0] == "casekit"
    return main(argv[1:])


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder laid out like the checkout, with the example ledger at data/."""
    (tmp_path / "data").mkdir()
    shutil.copy(LEDGER, tmp_path / "data" / LEDGER.name)
    return tmp_path


def test_the_example_ledger_is_what_its_script_writes(tmp_path):
    made = make_example_ledger.main(["--out", str(tmp_path / "ledger.xlsx")])
    assert made.read_bytes() == LEDGER.read_bytes(), "run python scripts/make_example_ledger.py"
    assert 30 <= len(make_example_ledger.ledger()) <= 40


def test_the_ledger_has_the_headers_the_readme_lists():
    listed = _section("Bring your own Excel file").split("without a mapping")[1].split(")")[0]
    for header in make_example_ledger.HEADERS:
        assert header in listed, f"{header} is not in the README's list"
    commands = readme_commands()
    columns = next(a for c in commands for a in c if a.startswith("case_id="))
    for pair in columns.split(","):
        assert pair.split("=")[1] in make_example_ledger.HEADERS, pair


def test_readme_validate_and_rank_run_verbatim_and_mask_the_fake_people(checkout, monkeypatch,
                                                                        capsys):
    commands = [c for c in readme_commands() if c[1] in ("validate", "rank")]
    assert [c[1] for c in commands] == ["validate", "rank"]
    for argv in commands:
        code = _run(argv, checkout, monkeypatch)
        assert code == 0, (argv, capsys.readouterr().err)
    out = capsys.readouterr()
    ranking = (checkout / "ranking.csv").read_text(encoding="utf-8")
    assert ranking.startswith("rank,pattern,n_cases")
    assert len(ranking.splitlines()) >= 2  # something ranked
    written = out.out + out.err + ranking + (checkout / "problems.csv").read_text("utf-8")
    raw = make_example_ledger.ledger()
    for column in ("信访人姓名", "身份证号", "联系电话"):
        leaked = [v for v in raw[column].unique() if str(v) in written]
        assert not leaked, f"raw {column} in an output"


@pytest.mark.slow
def test_readme_report_runs_verbatim(checkout, monkeypatch, capsys):
    (argv,) = [c for c in readme_commands() if c[1] == "report"]
    code = _run(argv, checkout, monkeypatch)
    assert code == 0, capsys.readouterr().err
    html = (checkout / "report.html").read_text(encoding="utf-8")
    raw = make_example_ledger.ledger()
    for column in ("信访人姓名", "身份证号", "联系电话"):
        assert not [v for v in raw[column].unique() if str(v) in html], column
