"The package as users install it: version, entry point, shipped assets."
import configparser, subprocess, sys, zipfile
from pathlib import Path

from cli_helpers import CLHOI

ROOT = Path(__file__).resolve().parents[1]

def test_version_matches_settings():
    import clhoi
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    assert clhoi.__version__ == cfg['DEFAULT']['version']

def test_wheel_ships_assets_and_entry_point(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    whl, = tmp_path.glob('clhoi-*.whl')
    names = zipfile.ZipFile(whl).namelist()
    shipped = {n for n in names if n.startswith('clhoi/assets/')}
    home = ROOT/'clhoi'/'assets'                        # label lists, and the World models in sub-folders
    assets = {f'clhoi/assets/{p.relative_to(home).as_posix()}' for p in home.rglob('*') if p.is_file()}
    assert assets and assets <= shipped, f'missing from the wheel: {sorted(assets - shipped)}'
    ep = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'clhoi = clhoi.cli:main' in zipfile.ZipFile(whl).read(ep).decode()

def test_cli_help_is_fast_and_clean():
    r = subprocess.run([*CLHOI, '--help'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and 'evaluate' in r.stdout and 'teach' in r.stdout

def test_console_script_beside_the_interpreter():
    "pip puts `clhoi` beside the venv's python: `.venv/bin/clhoi` works without activating the venv."
    script = Path(sys.executable).parent / 'clhoi'
    if not script.exists(): import pytest; pytest.skip(f'no console script beside {sys.executable} (not a venv install)')
    r = subprocess.run([str(script), 'fly'], capture_output=True, text=True, timeout=60, env={'PATH': '/usr/bin:/bin'})
    assert r.returncode == 2 and r.stderr.startswith("clhoi: unknown command 'fly'"), r.stderr
