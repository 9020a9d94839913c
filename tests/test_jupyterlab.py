"JupyterLab, the other way to read the notebooks: `.venv/bin/jupyter lab nbs/` opens them offline and renders them."
import os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JUPYTER = Path(sys.executable).parent/'jupyter'
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason='chromium not installed: apt-get install -y --no-install-recommends chromium'),
              pytest.mark.skipif(not JUPYTER.exists(), reason=f'{JUPYTER} missing: pip install -e ".[dev]" (jupyterlab)')]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_until_up(proc:subprocess.Popen, url:str, log:Path, limit_s:float=90):
    "Poll the server's status API until it answers; stop when it exits or after `limit_s`."
    for _ in range(int(limit_s / 0.5)):
        if proc.poll() is not None: pytest.fail(f'jupyter lab exited with {proc.returncode}:\n{log.read_text()[-2000:]}')
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except OSError: pass
        time.sleep(0.5)
    pytest.fail(f'jupyter lab did not answer {url} within {limit_s} s:\n{log.read_text()[-2000:]}')

def test_notebook_renders_in_jupyterlab(tmp_path):
    nb = ROOT/'nbs'/'00_core.ipynb'
    before = nb.read_bytes()
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, 'JUPYTER_RUNTIME_DIR': str(tmp_path/'runtime'), 'JUPYTERLAB_WORKSPACES_DIR': str(tmp_path/'workspaces'),
           'JUPYTER_CONFIG_DIR': str(tmp_path/'config')}           # nothing written to the user's ~/.jupyter
    log = tmp_path/'lab.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen([str(JUPYTER), 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
                                 f'--ServerApp.token={token}', f'--notebook-dir={ROOT}', '--LabApp.news_url=None',
                                 '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
                                 '--LabApp.extension_manager=readonly', f'--LabApp.workspaces_dir={tmp_path/"workspaces"}',
                                 *(['--allow-root'] if os.geteuid() == 0 else [])],   # CI containers run as root
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        base = f'http://127.0.0.1:{port}'
        wait_until_up(proc, f'{base}/api/status?token={token}', log)
        with tempfile.TemporaryDirectory() as profile:
            r = subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                                '--disable-component-update', '--disable-sync', '--no-first-run', f'--user-data-dir={profile}',
                                '--window-size=1280,900', '--virtual-time-budget=30000', '--dump-dom',
                                f'{base}/lab/tree/nbs/00_core.ipynb?token={token}'],
                               capture_output=True, text=True, timeout=180, cwd=profile)
        dom = r.stdout
        assert 'jp-Notebook' in dom, f'no notebook panel in the page (chromium: {r.stderr[-500:]})'
        assert '>Core<' in dom or 'id="Core"' in dom, "the title cell's heading 'Core' is not rendered"
        assert 'Glossary of dimension letters' in dom, "00_core's prose is not rendered"
    finally:
        proc.terminate()
        try: proc.wait(timeout=30)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
    assert nb.read_bytes() == before, 'opening the notebook in JupyterLab changed the file'
