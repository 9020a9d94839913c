"The docs site builds offline from the notebooks (nbdev's processing + smalldocs) and looks right in headless Chromium."
import ast, json, logging, re, shutil, subprocess, tempfile
from pathlib import Path

import pytest
import yaml
from PIL import Image

from clhoi.core import ClhoiError
from clhoi.docs import build_docs

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
GENERATED = {'_quarto.yml', 'nbdev.yml', 'sidebar.yml'}   # written into nbs/ by every docs build (git-ignored)
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason='chromium not installed: apt-get install -y --no-install-recommends chromium')

def page_name(nb): return re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'   # Quarto's page: the number prefix dropped

def copy_repo(dest:Path) -> Path:
    "What the docs build reads, in a throw-away copy: the build writes nbs/_quarto.yml, nbdev.yml, sidebar.yml and _proc/."
    for f in ('settings.ini', '_quarto.yml'): shutil.copy2(ROOT/f, dest/f)
    shutil.copytree(ROOT/'nbs', dest/'nbs', ignore=lambda d, names: [n for n in names if n in GENERATED or n.startswith(('.', '_'))])
    return dest

class Collect(logging.Handler):
    def __init__(self): super().__init__(logging.WARNING); self.messages = []
    def emit(self, record): self.messages.append(record.getMessage())

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp('repo'))
    log, warned = logging.getLogger('clhoi.docs'), Collect()
    log.addHandler(warned)
    try: out = build_docs(repo, tmp_path_factory.mktemp('out')/'_site')
    finally: log.removeHandler(warned)
    return repo, out, warned.messages

# ---------------------------------------------------------------- before building: what nbdev's processing runs

def runs_in_docs_build(cell) -> bool:
    "nbdev 2.4's exec_show_docs runs a code cell that has an import anywhere in it (exported cells and show_doc too)."
    src = ''.join(cell['source'])
    if cell['cell_type'] != 'code' or re.search(r'^#\|\s*eval:\s*false', src, re.M | re.I): return False
    try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!'))))
    except SyntaxError: return False
    return any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_no_cell_mixes_imports_with_other_code(nb):
    bad = []
    for i, c in enumerate(json.loads(nb.read_text())['cells']):
        src = ''.join(c['source'])
        if re.search(r'^#\|\s*(export|exports|exporti)\b', src, re.M) or not runs_in_docs_build(c): continue
        body = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!')))).body
        if any(not isinstance(n, (ast.Import, ast.ImportFrom)) for n in body): bad.append(f"cell {i}: {src.splitlines()[0]!r}")
    assert not bad, (f"{nb.name}: the docs build runs every cell with an import in it (even inside a function) without the "
                     f"notebook's other cells; move these imports into the imports cell: {bad}")

# ---------------------------------------------------------------- the built site

def test_one_page_per_notebook(site):
    _, out, _ = site
    pages = {p.name for p in out.glob('*.html')}
    assert {page_name(nb) for nb in NBS} <= pages, f'missing pages: {sorted({page_name(nb) for nb in NBS} - pages)}'
    assert 'index.html' in pages and (out/'site_libs').is_dir()

def test_no_broken_links_or_ignored_settings(site):
    _, _, warnings = site
    assert not warnings, 'the docs build warned (smalldocs: broken links, settings it ignores):\n' + '\n'.join(warnings)

def test_sidebar_lists_exactly_the_notebooks(site):
    repo, out, _ = site
    side = yaml.safe_load((repo/'nbs'/'sidebar.yml').read_text())['website']['sidebar']['contents']
    assert sorted(side) == sorted(nb.name for nb in NBS)
    tags = re.findall(r'<a\b[^>]*\bsidebar-link\b[^>]*>', (out/'index.html').read_text())
    hrefs = {m.group(1) for t in tags if (m := re.search(r'href="([^"#]+)"', t))}
    assert {page_name(nb) for nb in NBS} <= hrefs, f'pages not in the sidebar: {sorted({page_name(nb) for nb in NBS} - hrefs)}'

def test_quarto_yml_has_one_hand_edited_copy(site):
    repo, _, _ = site
    top, there = repo/'_quarto.yml', repo/'nbs'/'_quarto.yml'
    assert there.is_symlink() and there.resolve() == top.resolve(), 'nbs/_quarto.yml should be a link to the top-level file'
    cfg = yaml.safe_load(top.read_text())
    assert cfg['project']['type'] == 'website' and cfg['metadata-files'] == ['nbdev.yml', 'sidebar.yml']
    nbdev_yml = yaml.safe_load((repo/'nbs'/'nbdev.yml').read_text())   # written by nbdev from settings.ini
    assert nbdev_yml['website']['title'] == 'clhoi' and nbdev_yml['project']['output-dir'] == '_docs'

def test_api_page_shows_the_reference_and_links_inside_the_site(site):
    _, out, _ = site
    html = (out/'labels.html').read_text()
    assert 'id="hico_det"' in html, 'no show_doc heading for hico_det'
    assert '117 verbs, 600 HOI classes' in html, "hico_det's docstring, which only show_doc puts on the page"
    assert 'https://clhoi.github.io/clhoi/' not in html, 'a doc link still points at the published site'
    assert 'href="labels.html#labelspace"' in html

def test_a_failing_notebook_is_named(tmp_path):
    "A cell the docs build runs out of context fails with the notebook, the cell and the cause; the other cells never run."
    repo = tmp_path/'repo'; (repo/'nbs').mkdir(parents=True)
    for f in ('settings.ini', '_quarto.yml', 'nbs/styles.css'): shutil.copy2(ROOT/f, repo/f)
    ran = tmp_path/'ran.txt'
    def nb(*cells):
        return json.dumps({'cells': [{'cell_type': t, 'metadata': {}, 'source': s, **({'outputs': [], 'execution_count': None} if t == 'code' else {})}
                                     for t, s in cells], 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'python3', 'language': 'python'}},
                           'nbformat': 4, 'nbformat_minor': 5})
    (repo/'nbs'/'index.ipynb').write_text(nb(('markdown', '# demo\n\n> Home.')))
    cells = [('markdown', '# Demo\n\n> A demo.'), ('code', '#| default_exp demo'),
             ('code', '#| export\ndef twice(x:int): # a number\n    "Double `x`."\n    return 2 * x'),
             ('code', f'open({str(ran)!r}, "w").write("ran")')]
    (repo/'nbs'/'00_demo.ipynb').write_text(nb(*cells))
    out = build_docs(repo, tmp_path/'site')
    assert not ran.exists(), 'the docs build ran a cell that neither imports nor exports'
    assert 'id="twice"' in (out/'demo.html').read_text(), 'no show_doc for the exported function'
    (repo/'nbs'/'00_demo.ipynb').write_text(nb(*cells, ('code', 'y = twice(3)'), ('code', 'import math\nz = math.sqrt(y)')))
    with pytest.raises(ClhoiError, match=r"00_demo\.ipynb cell 5 fails .*NameError: name 'y' is not defined"):
        build_docs(repo, tmp_path/'site')

# ---------------------------------------------------------------- in a browser

def chromium(*args:str, url:str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                               '--disable-component-update', '--disable-sync', '--no-first-run', f'--user-data-dir={profile}',
                               *args, url], capture_output=True, text=True, timeout=120, cwd=profile)

@needs_chromium
@pytest.mark.parametrize('page, expected', [('index.html', ['<title>clhoi</title>', 'href="labels.html"']),
                                            ('labels.html', ['Label spaces', 'id="hico_det"', '117 verbs, 600 HOI classes'])])
def test_page_in_headless_chromium(site, tmp_path, page, expected):
    _, out, _ = site
    url = (out/page).as_uri()
    dom = chromium('--dump-dom', url=url).stdout
    for text in expected: assert text in dom, f'{page}: {text!r} not in the rendered page'
    png = tmp_path/'shot.png'
    r = chromium('--window-size=1280,900', f'--screenshot={png}', url=url)
    assert png.is_file(), f'no screenshot: {r.stderr[-500:]}'
    im = Image.open(png).convert('RGB')
    assert im.size == (1280, 900)
    assert len(im.getcolors(maxcolors=1 << 20)) > 100, 'the screenshot is (nearly) blank'
    r_, g_, b_ = im.getpixel((400, 20))      # the navbar: the cosmo theme's primary blue, so the style sheets loaded
    assert b_ > 180 and r_ < 100, f'navbar colour {(r_, g_, b_)}: the theme did not load'
