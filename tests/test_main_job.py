"The README's main job, as the README runs it: papermill from the repository root, not from nbs/."
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_main_job_runs_from_the_repository_root(tmp_path):
    readme = (ROOT/'README.md').read_text()
    job = re.findall(r'```sh\n(.*?)```', readme, re.S)[0].strip().split(' && ')[-1]   # .venv/bin/papermill IN OUT
    nb = job.split()[1]
    out = tmp_path/'out.ipynb'
    r = subprocess.run([sys.executable, '-m', 'papermill', nb, str(out)], cwd=ROOT, capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    assert out.exists()
