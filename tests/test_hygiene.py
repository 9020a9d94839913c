"Notebook hygiene (STYLE.md): the checks a reviewer would otherwise make by eye."
import ast, configparser, json, re
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
    cs = cells(nb)
    tagged = [c for c in cs if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(tagged) == 1, 'exactly one cell tagged "parameters" (papermill)'
    first_code = next(c for c in cs if c['cell_type'] == 'code')
    assert first_code is tagged[0], 'the parameters cell is the first code cell'

def test_cell_tags_survive_nbdev_clean():
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    assert 'tags' in cfg['DEFAULT'].get('allowed_cell_metadata_keys', '').split(), \
        'without allowed_cell_metadata_keys = tags, nbdev_clean strips the papermill parameters tag'

def _order(stem): # '02a_boxes' sorts after '02_data' and before '03_world'
    m = re.match(r'^(\d+)([a-z]?)_', stem); return (int(m.group(1)), m.group(2))

# Layering: a module uses only lower-numbered modules. Every way of reaching another module counts: `import` and
# `from` statements anywhere (inside functions too), relative imports, `importlib.import_module` / `__import__`
# with a constant string, and every 'clhoi.X:name' dispatch string (resolved later by import_module). An edge up
# is allowed only when declared here, with its reason; a declared edge that no longer exists fails too.
ALLOWED_UPWARD = {
    ('cli', 'docs'): "the CLI is the top-level dispatcher: its COMMANDS table names 'clhoi.docs:docs_command' "
                     "(imported only when `clhoi docs` runs); numbers are never renumbered, so 31_docs stays above 30_cli",
}
_DISPATCH = re.compile(r'\bclhoi\.(\w+):\w+')
_MODULE = re.compile(r'^clhoi\.(\w+)(?:\.\w+)*$')

def clhoi_edges(source:str, filename:str='<source>') -> set[str]:
    "Every clhoi module (first name after `clhoi.`) that `source` imports or names for import, by any route."
    out = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            out |= {m.group(1) for a in node.names for m in [_MODULE.match(a.name)] if m}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and (m := _MODULE.match(node.module)): out.add(m.group(1))
            elif node.level == 0 and node.module == 'clhoi': out |= {a.name for a in node.names}
            elif node.level == 1 and node.module: out.add(node.module.split('.')[0])
            elif node.level == 1: out |= {a.name for a in node.names}          # from . import world
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ''
            if name in ('import_module', '__import__') and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                target = node.args[0].value
                if target.startswith('.'): out.add(target[1:].split('.')[0])
                elif m := _MODULE.match(target): out.add(m.group(1))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out |= set(_DISPATCH.findall(node.value))
            if m := _MODULE.match(node.value): out.add(m.group(1))              # a module name kept for later
    return out

def test_the_layering_parser_sees_every_route():
    "Each route in its own line: the parser must find all of them, and nothing in comments or plain prose."
    src_ = """
import clhoi.a
from clhoi.b import x
from clhoi import c
from .d import y
from . import e
def f():
    import clhoi.g as G
    from .h import z
    importlib.import_module('clhoi.i'); importlib.import_module('.j', 'clhoi'); __import__('clhoi.k')
    return {'cmd': ('clhoi.l:run', 'help')}
MOD = 'clhoi.m'
# import clhoi.n   (a comment)
MSG = "use `import clhoi.world` first"
"""
    test = clhoi_edges(src_)
    assert test == set('abcdeghijklm'), sorted(test)

def test_modules_import_only_lower_numbered_modules():
    owner = {default_exp(nb)[0]: nb for nb in NBS if is_library(nb)}
    seen, bad = set(), []
    for mod, nb in owner.items():
        path = ROOT/'clhoi'/f"{mod.replace('.', '/')}.py"
        for dep in clhoi_edges(path.read_text(), str(path)) - {mod}:
            assert dep in owner, f'clhoi/{path.name} uses clhoi.{dep}, which no notebook exports'
            if _order(owner[dep].stem) < _order(nb.stem): continue
            if (mod, dep) in ALLOWED_UPWARD: seen.add((mod, dep)); continue
            bad.append(f'clhoi/{path.name} ({nb.name}) uses clhoi.{dep} ({owner[dep].name}), a later notebook')
    assert not bad, '; '.join(bad) + ': register from above (as clhoi.world does with labels), or move the function'
    assert seen == set(ALLOWED_UPWARD), f'declared upward edges that no longer exist: {set(ALLOWED_UPWARD) - seen}'

def test_every_module_is_owned_by_a_notebook():
    exported = {default_exp(nb)[0] for nb in NBS if is_library(nb)}
    modules = {p.stem for p in (ROOT/'clhoi').glob('*.py')} - {'__init__', '_modidx'}
    assert modules <= exported, f'modules no notebook exports (hand-written?): {sorted(modules - exported)}'

# House size (issue 8): one public symbol per export cell, modules under ~400 lines, examples that fit the page
# (75 characters, as nbdev's and fastcore's own notebooks), functions a reader takes in at once (~40 lines).
def export_cells(nb): return [src(c) for c in cells(nb) if c['cell_type'] == 'code'
                              and re.search(r'^#\|\s*export', src(c), re.M)]

def public_names(source:str) -> list[str]:
    "The public names a cell defines at its top level: functions, classes and assigned constants."
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.append(node.name)
        elif isinstance(node, ast.Assign): names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name): names.append(node.target.id)
    return [n for n in names if not n.startswith('_')]

def test_public_names_sees_each_kind():
    assert public_names("import os\nA = 1\nB: int = 2\n_c = 3\ndef f(): pass\nclass K: pass\ndef _g(): pass") \
        == ['A', 'B', 'f', 'K']

@pytest.mark.parametrize('nb', [n for n in NBS if is_library(n)], ids=lambda p: p.name)
def test_one_public_symbol_per_export_cell(nb):
    crowded = [names for s in export_cells(nb) if len(names := public_names(s)) > 1]
    assert not crowded, f'export cells with more than one public symbol: {crowded}'

MODULE_LINES = 400
@pytest.mark.parametrize('path', sorted(p for p in (ROOT/'clhoi').glob('*.py') if p.stem != '_modidx'),
                         ids=lambda p: p.name)
def test_module_size(path):
    n = len(path.read_text().splitlines())
    assert n <= MODULE_LINES, f'{path.name} has {n} lines: split its notebook by subject (house size ~400)'

EXAMPLE_WIDTH, CODE_WIDTH = 75, 120
@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_lines_fit_the_page(nb):
    wide = []
    for i, c in enumerate(cells(nb)):
        if c['cell_type'] != 'code': continue
        limit = CODE_WIDTH if re.search(r'^#\|\s*export', src(c), re.M) else EXAMPLE_WIDTH
        wide += [f'cell {i}: {len(l)} > {limit}: {l[:40]}...' for l in src(c).splitlines() if len(l) > limit]
    assert not wide, f'{len(wide)} lines too wide (examples {EXAMPLE_WIDTH}, library code {CODE_WIDTH}): {wide[:5]}'

FUNCTION_LINES = 40
def long_functions(source:str, filename:str='<source>') -> list[str]:
    "Functions whose body runs past FUNCTION_LINES lines (the signature and its docments not counted)."
    return [f'{n.name} ({n.end_lineno - n.body[0].lineno + 1} lines)' for n in ast.walk(ast.parse(source, filename))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.body[0].lineno + 1 > FUNCTION_LINES]

def test_long_functions_counts_the_body():
    body = '\n'.join(f'    x{i} = {i}' for i in range(FUNCTION_LINES))
    assert long_functions(f'def f(a,\n      b):\n{body}') == []
    assert long_functions(f'def f():\n{body}\n    return 1') == [f'f ({FUNCTION_LINES + 1} lines)']

@pytest.mark.parametrize('path', sorted(p for p in (ROOT/'clhoi').glob('*.py') if p.stem != '_modidx'),
                         ids=lambda p: p.name)
def test_functions_are_short(path):
    long = long_functions(path.read_text(), str(path))
    assert not long, f'{path.name}: split into named steps: {long}'

def test_the_module_map_lists_every_library_notebook():
    "index.ipynb's module map: one row `| `NB` | `module` | ... |` per library notebook, in file order."
    text = ''.join(src(c) for c in cells(ROOT/'nbs'/'index.ipynb') if c['cell_type'] == 'markdown')
    rows = re.findall(r'^\| `(\w+)` \| `([\w.]+)` \|', text, re.M)
    want = [(nb.stem, default_exp(nb)[0]) for nb in NBS if is_library(nb)]
    assert rows == want, f'module map rows {rows} != notebooks {want}'
