"`clhoi reproduce` from a clone: a notebook run through papermill, REPORT.md with its table beside the paper, resume."
import json
from pathlib import Path

from cli_helpers import clhoi, one_line_error

ROOT = Path(__file__).resolve().parents[1]
SMALL = ['--param', 'seeds=[0]', 'epochs=1', 'n_train=40', 'n_test=20']

def test_reproduce_one_notebook_then_resume(tmp_path):
    out = tmp_path / 'runs'
    r = clhoi('reproduce', '--only', 'ablation_init', '--out', out, *SMALL, '--quiet', cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.splitlines()[0].startswith('ablation_init: ran in ')
    res = json.loads((out / 'ablation_init' / 'results.json').read_text())
    assert res['seeds'] == [0] and res['epochs'] == 1 and res['world'] == {'n_train': 40, 'n_test': 20}
    report = (out / 'REPORT.md').read_text()
    # the table as the notebook showed it, recomputed here from its runs: paper value beside the World value
    trained = res['runs'][0]['trained']['full']
    assert f"| trained | 15.62 | 26.74 | {trained:.2f} |" in report, report
    assert '[ablation_init.ipynb](ablation_init.ipynb)' in report and (out / 'ablation_init.ipynb').is_file()
    assert '![ablation_init](ablation_init/figure.png)' in report and (out / 'ablation_init' / 'figure.png').is_file()
    assert 'Not run: `clhoi reproduce --only ablation_chain`.' in report
    before = (out / 'ablation_init' / 'results.json').stat().st_mtime_ns
    r = clhoi('reproduce', '--only', 'ablation_init', '--out', out, *SMALL, '--quiet', cwd=ROOT, timeout=300)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == 'ablation_init: skipped', r.stdout
    assert (out / 'ablation_init' / 'results.json').stat().st_mtime_ns == before

def test_reproduce_user_errors(tmp_path):
    one_line_error(clhoi('reproduce', '--only', 'table9', cwd=ROOT), '--only table9: not a reproduction notebook')
    one_line_error(clhoi('reproduce', '--nbs', tmp_path, cwd=ROOT), 'no main_results.ipynb there; run from a clone')
    one_line_error(clhoi('reproduce', '--param', 'seeds', cwd=ROOT), '--param seeds: write KEY=VALUE')
