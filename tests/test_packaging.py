"The package as users install it: version, entry point, shipped assets."
import configparser, json, os, subprocess, sys, sysconfig, zipfile
from pathlib import Path

import pytest

from cli_helpers import CLHOI

ROOT = Path(__file__).resolve().parents[1]

def test_version_matches_settings():
    import clhoi
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    assert clhoi.__version__ == cfg['DEFAULT']['version']

@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(out), str(ROOT)],
                   check=True, capture_output=True)
    whl, = out.glob('clhoi-*.whl')
    return whl

def test_wheel_ships_assets_and_entry_point(wheel):
    whl = wheel
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

def test_installed_wheel_predicts_offline_with_the_shipped_student(wheel, tmp_path):
    "The wheel in a fresh venv outside the source tree: `clhoi predict` with no checkpoint runs the World student."
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, capture_output=True)
    py, bin_ = venv / 'bin' / 'python', venv / 'bin'
    r = subprocess.run([str(py), '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', str(wheel)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the dependencies (torch, transformers, ...) come from this environment, after the venv's own packages
    site = subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, 'deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    work = tmp_path / 'elsewhere'; work.mkdir()
    env = {'PATH': '/usr/bin:/bin', 'HOME': os.environ.get('HOME', str(tmp_path)), 'HF_HUB_OFFLINE': '1',
           'TRANSFORMERS_OFFLINE': '1'}
    run = lambda *a: subprocess.run([str(bin_ / 'clhoi'), *map(str, a)], cwd=work, env=env, capture_output=True,
                                    text=True, timeout=600)
    where = subprocess.run([str(py), '-c', 'import clhoi; print(clhoi.__file__)'], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(site) and not where.startswith(str(ROOT)), where
    r = run('world', '--out', 'w', '--n-train', 4, '--n-test', 4, '--n-pretrain', 0, '--quiet')
    assert r.returncode == 0, r.stderr
    r = run('predict', '--images', 'w/images/test', '--out', 'preds.json', '--quiet')
    assert r.returncode == 0, r.stderr
    preds = json.loads((work / 'preds.json').read_text())
    assert sorted(p['file_name'] for p in preds) == sorted(f.name for f in (work / 'w' / 'images' / 'test').iterdir())
    assert sum(len(p['hoi_prediction']) for p in preds) > 0
