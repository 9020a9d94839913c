"The docs site builds offline from the notebooks (nbdev's processing + smalldocs) and looks right in headless Chromium."
import ast, html, json, logging, re, shutil, subprocess, tempfile
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
    """What the docs build reads, in a throw-away copy: the build writes nbs/_quarto.yml, nbdev.yml, sidebar.yml and _proc/.
    The notebooks run, so what they read beside nbs/ comes too (20_evaluation runs tests/reference_hico.py, which reads
    clhoi/assets/ by path)."""
    for f in ('settings.ini', '_quarto.yml'): shutil.copy2(ROOT/f, dest/f)
    shutil.copytree(ROOT/'nbs', dest/'nbs', ignore=lambda d, names: [n for n in names if n in GENERATED or n.startswith(('.', '_'))])
    for d in ('tests', 'clhoi'): shutil.copytree(ROOT/d, dest/d, ignore=shutil.ignore_patterns('__pycache__', '.*'))
    return dest

class Collect(logging.Handler):
    def __init__(self): super().__init__(logging.WARNING); self.messages = []
    def emit(self, record): self.messages.append(record.getMessage())

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp('repo'))
    log, warned = logging.getLogger('clhoi'), Collect()   # clhoi.docs and the modules it builds on (clhoi.docs_site)
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

def flat(entry) -> list[str]:
    "The notebooks a sidebar lists, in order."
    if isinstance(entry, str): return [entry]
    if isinstance(entry, dict): return flat(entry.get('contents', []))
    return [n for e in entry for n in flat(e)]

def test_sidebar_lists_exactly_the_notebooks(site):
    repo, out, _ = site
    side = yaml.safe_load((repo/'nbs'/'sidebar.yml').read_text())['website']['sidebar']['contents']
    assert sorted(flat(side)) == sorted(nb.name for nb in NBS)
    tags = re.findall(r'<a\b[^>]*\bsidebar-link\b[^>]*>', (out/'index.html').read_text())
    hrefs = {m.group(1) for t in tags if (m := re.search(r'href="([^"#]+)"', t))}
    assert {page_name(nb) for nb in NBS} <= hrefs, f'pages not in the sidebar: {sorted({page_name(nb) for nb in NBS} - hrefs)}'

def test_sidebar_groups_pages_by_paper_part(site):
    "Index first, then the paper's parts in reading order, each notebook in its part (the table in 30d_docs_site)."
    repo, out, _ = site
    side = yaml.safe_load((repo/'nbs'/'sidebar.yml').read_text())['website']['sidebar']['contents']
    assert side[0] == 'index.ipynb'
    sections = {e['section']: e['contents'] for e in side[1:]}
    order = ['Data and labels', 'Teacher', 'Student', 'Training', 'Evaluation', 'Reproductions', 'Tools']
    assert list(sections) == [s for s in order if s in sections], list(sections)
    expected = {'01_labels.ipynb': 'Data and labels', '03_world.ipynb': 'Data and labels', '09_parsing.ipynb': 'Teacher',
                '10_teacher.ipynb': 'Teacher', '20_evaluation.ipynb': 'Evaluation', '20a_vcoco.ipynb': 'Evaluation',
                '00_core.ipynb': 'Tools', '30_cli.ipynb': 'Tools', '31_docs.ipynb': 'Tools',
                '02c_world_templates.ipynb': 'Data and labels', '02g_world_captions.ipynb': 'Data and labels',
                '20b_vcoco_detections.ipynb': 'Evaluation', '20d_vcoco_evaluate.ipynb': 'Evaluation',
                '30a_main.ipynb': 'Tools', '30b_docs_pages.ipynb': 'Tools', '30c_docs_readme.ipynb': 'Tools',
                '30d_docs_site.ipynb': 'Tools'}
    for nb, part in expected.items():
        if (repo/'nbs'/nb).exists(): assert nb in sections[part], f'{nb} not under {part}: {sections}'
    html = (out/'index.html').read_text()
    shown = [s for s in order if s in sections]
    at = [html.find(f'>{s}<') for s in shown]
    assert all(i > 0 for i in at) and at == sorted(at), f'section headings missing or out of order in the sidebar: {dict(zip(shown, at))}'

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

def text_of(html:str) -> str:
    "The page's visible text, roughly: tags removed, entities left."
    return re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', re.sub(r'<(script|style)\b.*?</\1>', '', html, flags=re.S)))

def test_dataclass_shows_its_fields_and_their_comments(site):
    _, out, _ = site
    html = (out/'world_config.html').read_text()
    assert 'def WorldConfig(' not in html and '-&gt;None' not in html, 'the dataclass is shown as a function returning None'
    rows = re.findall(r'<tr[^>]*>(.*?)</tr>', html, re.S)
    cells = [[text_of(c).strip() for c in re.findall(r'<td[^>]*>(.*?)</td>', r, re.S)] for r in rows]
    # from clhoi/world_config.py: `n_train:int=1000 # images in the train split (the rare split is computed from it)`
    assert ['n_train', 'int', '1000', 'images in the train split (the rare split is computed from it)'] in cells, cells[:5]

def test_docments_render_as_text_with_links(site):
    _, out, _ = site
    html = (out/'world_scene.html').read_text()
    assert '[`sample_scene`]' not in html and '# from [' not in html, 'a docment shows as raw Markdown'
    assert re.search(r'<td[^>]*>\s*from <a href="world_scene.html#sample_scene"[^>]*>(<code>)?sample_scene', html), \
        "render_scene's `graph` docment ('from `sample_scene`') is not a link in a table cell"

def test_pages_show_outputs_and_figures(site):
    "Every page was run: the World pages hold pictures, the index its first look, the labels page printed values."
    _, out, _ = site
    for page in ('world.html', 'world_scene.html', 'world_audit.html'):
        assert len(re.findall(r'<img src="data:image/png;base64,', (out/page).read_text())) >= 1, f'{page}: no picture'
    index = text_of((out/'index.html').read_text())
    assert "('ride motorcycle', 154, 138)" in html.unescape(index), 'the index does not show the first look (hico.hoi_name(153), ...)'

def test_reproduction_pages_say_which_run_and_the_index_links_the_report(site):
    "Without runs/ (a fresh clone), each reproduction page says it shows a smoke run; the report page says none ran."
    from clhoi.reproduce import REPRODUCTIONS
    _, out, _ = site
    for name in REPRODUCTIONS:
        assert 'This page shows a smoke run' in text_of((out/f'{name}.html').read_text()), name
    assert 'href="report.html"' in (out/'index.html').read_text()
    report = text_of((out/'report.html').read_text())
    assert 'No reproduction had been run when this site was built' in report, report[:300]
    assert report.count('Not run: clhoi reproduce --only') == len(REPRODUCTIONS), report

def test_no_dead_repository_links(site):
    "settings.ini names the placeholder github.com/clhoi/clhoi: no page links to it (source, issues, navbar)."
    _, out, _ = site
    for page in out.glob('*.html'):
        html = page.read_text()
        assert not re.search(r'href="[^"]*github\.com/clhoi/clhoi', html), f'{page.name} links to the placeholder repository'
        assert '/issues/new' not in html and '>source</a>' not in html, f'{page.name}: an issue or source link'

def tiny_repo(tmp_path, git_url=None):
    repo = tmp_path/'repo'; (repo/'nbs').mkdir(parents=True)
    for f in ('settings.ini', '_quarto.yml', 'nbs/styles.css'): shutil.copy2(ROOT/f, repo/f)
    if git_url: (repo/'settings.ini').write_text(re.sub(r'(?m)^git_url = .*$', f'git_url = {git_url}', (repo/'settings.ini').read_text()))
    return repo

def nb_json(*cells):
    return json.dumps({'cells': [{'cell_type': t, 'metadata': {}, 'source': s, **({'outputs': [], 'execution_count': None} if t == 'code' else {})}
                                 for t, s in cells], 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'python3', 'language': 'python'}},
                       'nbformat': 4, 'nbformat_minor': 5})

def test_a_real_repository_gets_its_links(tmp_path):
    repo = tiny_repo(tmp_path, 'https://github.com/someone/clhoi-fork')
    (repo/'nbs'/'index.ipynb').write_text(nb_json(('markdown', '# demo\n\n> Home.')))
    out = build_docs(repo, tmp_path/'site')
    html = (out/'index.html').read_text()
    assert 'href="https://github.com/someone/clhoi-fork"' in html, 'no navbar link to the repository'
    assert 'https://github.com/someone/clhoi-fork/issues/new' in html, 'no "Report an issue" link'
    assert 'github.com/clhoi/clhoi' not in html

def test_a_failing_notebook_is_named(tmp_path):
    "Every cell runs (hidden ones too, eval: false and tst_flags ones not); a failing cell is named with its notebook."
    repo = tiny_repo(tmp_path)
    ran = tmp_path/'ran.txt'
    (repo/'nbs'/'index.ipynb').write_text(nb_json(('markdown', '# demo\n\n> Home.')))
    cells = [('markdown', '# Demo\n\n> A demo.'), ('code', '#| default_exp demo'),
             ('code', '#| export\ndef twice(x:int): # a number\n    "Double `x`."\n    return 2 * x'),
             ('code', f'#| hide\nopen({str(ran)!r}, "w").write("ran")'), ('code', 'print(twice(21))'),
             ('code', '#| eval: false\nraise SystemExit("must not run")'), ('code', '#| notest\nraise SystemExit("must not run")')]
    (repo/'nbs'/'00_demo.ipynb').write_text(nb_json(*cells))
    out = build_docs(repo, tmp_path/'site')
    assert ran.read_text() == 'ran', 'the docs build did not run a hidden cell'
    html = (out/'demo.html').read_text()
    assert 'id="twice"' in html, 'no show_doc for the exported function'
    assert re.search(r'<pre><code>42\s*</code></pre>', html), "the page does not show print(twice(21))'s output"
    assert 'ran.txt' not in html, 'a #| hide cell is on the page'
    (repo/'nbs'/'00_demo.ipynb').write_text(nb_json(*cells, ('code', 'y = twice(3)'), ('code', 'z = y + undefined_name')))
    with pytest.raises(ClhoiError, match=r"00_demo\.ipynb cell 8 fails .*NameError: name 'undefined_name' is not defined"):
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

PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images].filter(i => i.src.startsWith('data:image/'));
  const pres = [...document.querySelectorAll('.cell-output-markdown pre')];
  document.body.setAttribute('data-probe', JSON.stringify({
    images: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    clipped: pres.filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.textContent.slice(0, 60))}));
});
</script>"""

def probe(out:Path, page:str) -> tuple[dict, str]:
    "Open a copy of `page` (beside it, so its style sheets load) with PROBE appended: what the browser measured, and the DOM."
    copy = out/f'probe-{page}'
    copy.write_text((out/page).read_text().replace('</body>', PROBE + '</body>'))
    try: dom = chromium('--window-size=1400,1000', '--virtual-time-budget=10000', '--dump-dom', url=copy.as_uri()).stdout
    finally: copy.unlink()
    m = re.search(r'data-probe="([^"]*)"', dom)
    assert m, f'{page}: the probe did not run in chromium'
    return json.loads(html.unescape(m.group(1))), dom

@needs_chromium
@pytest.mark.parametrize('page', ['world.html', 'world_scene.html', 'world_audit.html'])
def test_world_pages_show_pictures_that_load(site, page):
    _, out, _ = site
    assert (out/page).exists(), f'{page}: no such page'
    seen, _ = probe(out, page)
    assert seen['images'] >= 1 and seen['loaded'] == seen['images'], f'{page}: pictures {seen}'

@needs_chromium
def test_signatures_are_not_clipped(site):
    "The code column is wide enough for show_doc's signatures at a 1400-pixel window."
    _, out, _ = site
    for page in ('world_scene.html', 'world_config.html', 'evaluation.html'):
        if (out/page).exists():
            seen, _ = probe(out, page)
            assert not seen['clipped'], f'{page}: signatures behind a scrollbar: {seen["clipped"]}'

@needs_chromium
def test_index_shows_its_first_look(site):
    _, out, _ = site
    _, dom = probe(out, 'index.html')
    # the first look: hico.hoi_name(153), hico.hoi_index('ride', 'motorcycle') + 1, len(hico.rare); HICO-DET's
    # hoi_list: class 154 is "ride motorcycle", and 138 of the 600 classes have fewer than 10 training instances
    assert html.escape("('ride motorcycle', 154, 138)", quote=False) in dom or "('ride motorcycle', 154, 138)" in dom, \
        'the index does not show the first look'

@needs_chromium
def test_evaluation_shows_its_golden_numbers(site):
    _, out, _ = site
    _, dom = probe(out, 'evaluation.html')
    start = dom.find('id="golden-cases"')
    assert start > 0, "the evaluation page has no 'Golden cases' section"
    end = dom.find('<section id=', start + 1)                      # up to the next section
    section = dom[start:end if end > 0 else len(dom)]
    text, outputs = text_of(section), re.findall(r'<div class="cell-output[^"]*">(.*?)</div>', section, re.S)
    assert outputs, ("the evaluation page shows no output under 'Golden cases': 20_evaluation should display its golden "
                     "cases' numbers (each case's hand-computed and measured AP), not only check them")
    assert re.search(r'84\.8[45]', text), "the duplicate golden case's AP (100 x (6 + 5 x 2/3) / 11 = 84.848...) is not shown"
