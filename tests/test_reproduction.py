"The reproduction notebooks end to end under papermill, on a small HOI World: results.json and the shown table agree."
import json, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ['-y', 'seeds: [0, 1]', '-p', 'epochs', '1', '-p', 'n_train', '40', '-p', 'n_test', '20']

def papermill(nb:str, tmp:Path, params:list[str]=SMALL) -> tuple[dict, str]:
    "Run `nbs/<nb>.ipynb` with papermill `params` (default SMALL); (results.json, the text of every output)."
    out = tmp / f'{nb}.ipynb'
    r = subprocess.run([sys.executable, '-m', 'papermill', f'nbs/{nb}.ipynb', str(out), *params, '-p', 'out', str(tmp)],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    texts = [''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/plain', ''))
             for c in json.loads(out.read_text())['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', [])]
    return json.loads((tmp / 'results.json').read_text()), '\n'.join(texts)

def shown(values:list[float]) -> str:
    "How the table writes a mean ± sample std over two seeds, computed here independently."
    m = sum(values) / 2; sd = abs(values[0] - values[1]) / 2 ** 0.5
    return f"{m:.2f} ± {sd:.2f}"

def test_ablation_chain(tmp_path):
    res, text = papermill('ablation_chain', tmp_path)
    assert res['table'] == 'table4' and res['seeds'] == [0, 1]
    assert list(res['runs']) == ['none', 'spatial', 'spatial+visual', 'all']
    for setting, runs in res['runs'].items():
        full = [r['trained']['full'] for r in runs]
        assert all(0 <= v <= 100 for v in full)
        assert shown(full) in text, (setting, full)
    assert '9.42' in text and '15.62' in text               # the paper's column beside the World's

def test_ablation_init(tmp_path):
    res, text = papermill('ablation_init', tmp_path)
    assert res['table'] == 'table6'
    init = [r['init']['full'] for r in res['runs']]; trained = [r['trained']['full'] for r in res['runs']]
    supervised = [r['trained']['full'] for r in res['supervised']]
    assert shown(init) in text and shown(trained) in text and shown(supervised) in text
    assert ' 5.30 ' in text and '15.62' in text
