import subprocess
import sys

import pytest

import casekit as ck


def test_import_casekit_stays_light():
    code = (
        "import sys, casekit\n"
        "heavy = [m for m in ('matplotlib', 'ipywidgets', 'lifelines', 'networkx', 'scipy') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", sorted(ck._EXPORTS))
def test_every_public_name_resolves(name):
    assert getattr(ck, name) is not None
    assert name in ck.__all__


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        ck.no_such_thing  # noqa: B018


def test_cli_without_command_exits_2(capsys):
    from casekit.cli import main

    assert main([]) == 2


def test_cli_version(capsys):
    from casekit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert ck.__version__ in capsys.readouterr().out


def test_environment_yml_has_the_bounds_of_pyproject():
    """Issue 14.6: conda users get the same lower bounds as pip users (docs/dependencies.md)."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["notebooks"],
                *project["optional-dependencies"]["scale"]]
    bounds = {}
    for req in declared:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9.]+)", req)
        assert m, f"{req}: expected NAME>=VERSION"
        bounds[m[1].lower()] = m[2]
    conda = dict(re.findall(r"^  - ([A-Za-z0-9_.-]+)>=([0-9.]+)$",
                            (root / "environment.yml").read_text(encoding="utf-8"), re.M))
    assert conda == bounds
