"Notebook hygiene (STYLE.md): the checks a reviewer would otherwise make by eye."
import configparser, json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted((ROOT/'nbs').glob('*.ipynb'))
REPRODUCTION = {'main_results', 'weak_captions', 'ablation_chain', 'ablation_teacher', 'ablation_init',
                'ablation_losses', 'qualitative', 'label_quality'}

def cells(nb): return json.loads(nb.read_text())['cells']
def src(c): return ''.join(c['source'])
def is_library(nb): return re.match(r'^\d', nb.stem) is not None
def default_exp(nb):
    return [m.group(1) for c in cells(nb) if c['cell_type'] == 'code'
            for m in [re.search(r'^#\|\s*default_exp\s+(\S+)', src(c), re.M)] if m]

def test_there_are_notebooks(): assert len(NBS) >= 3

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_notebook_shape(nb):
    d = json.loads(nb.read_text())
    assert d['metadata'].get('kernelspec', {}).get('name') == 'python3', 'papermill needs the python3 kernelspec'
    cs = d['cells']
    assert cs[0]['cell_type'] == 'markdown' and src(cs[0]).startswith('# '), 'first cell: a "# Title" markdown cell'
    assert '\n> ' in src(cs[0]) or (len(cs) > 1 and src(cs[1]).startswith('> ')), 'a "> summary" line under the title'
    for i, c in enumerate(cs):
        if c['cell_type'] != 'code': continue
        assert c.get('execution_count') is None, f'cell {i} has an execution count: run nbdev_clean'
        size = len(json.dumps(c.get('outputs', [])))
        assert size < 100_000, f'cell {i} has {size/1e3:.0f} kB of outputs (limit 100 kB)'
    if is_library(nb): assert len(default_exp(nb)) == 1, 'a library notebook has exactly one #| default_exp'
    else: assert default_exp(nb) == [], 'only numbered library notebooks export modules'

@pytest.mark.parametrize('nb', [n for n in NBS if n.stem in REPRODUCTION], ids=lambda p: p.name)
def test_reproduction_notebook_has_one_parameters_cell(nb):
    tagged = [c for c in cells(nb) if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(tagged) == 1, 'exactly one cell tagged "parameters" (papermill)'
    first_code = next(c for c in cells(nb) if c['cell_type'] == 'code')
    assert first_code is tagged[0], 'the parameters cell is the first code cell'

def test_cell_tags_survive_nbdev_clean():
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    assert 'tags' in cfg['DEFAULT'].get('allowed_cell_metadata_keys', '').split(), \
        'without allowed_cell_metadata_keys = tags, nbdev_clean strips the papermill parameters tag'

def _order(stem): # '02a_boxes' sorts after '02_data' and before '03_world'
    m = re.match(r'^(\d+)([a-z]?)_', stem); return (int(m.group(1)), m.group(2))

def test_modules_import_only_lower_numbered_modules():
    owner = {default_exp(nb)[0]: nb for nb in NBS if is_library(nb)}
    for nb in NBS:
        if not is_library(nb): continue
        for c in cells(nb):
            if c['cell_type'] != 'code' or not re.match(r'^#\|\s*export', src(c)): continue
            for mod in re.findall(r'^\s*(?:from|import)\s+clhoi\.(\w+)', src(c), re.M):
                assert mod in owner, f'{nb.name} imports clhoi.{mod}, which no notebook exports'
                assert _order(owner[mod].stem) < _order(nb.stem), f'{nb.name} imports clhoi.{mod} from a later notebook'

def test_every_module_is_owned_by_a_notebook():
    exported = {default_exp(nb)[0] for nb in NBS if is_library(nb)}
    modules = {p.stem for p in (ROOT/'clhoi').glob('*.py')} - {'__init__', '_modidx'}
    assert modules <= exported, f'modules no notebook exports (hand-written?): {sorted(modules - exported)}'
