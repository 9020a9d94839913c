"""`clhoi teach` and `clhoi merge` as a user runs them: killed and resumed, sharded and merged, one writer at a time,
offline without a checkpoint, and never changing a file that is not a label cache."""
import hashlib, json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest

from cli_helpers import clhoi, one_line_error, CLHOI
from clhoi.teacher import build_tiny_teacher
from clhoi.world import WorldConfig, build_world

HEADER = 'clhoi_label_cache'

def records(path):
    "The records of a cache, by file name, read with plain `json` (its first line is the header)."
    lines = Path(path).read_text().splitlines()
    assert json.loads(lines[0])[HEADER] == 2, lines[0]
    return sorted((json.loads(l) for l in lines[1:]), key=lambda r: r['file_name'])

def sha(path): return hashlib.sha256(Path(path).read_bytes()).hexdigest()

def write_cache(path, settings, names, tail=''):
    "A label cache written by hand: the header, one minimal record per name, then `tail` (e.g. a torn line)."
    lines = [{HEADER: 2, 'settings': settings}] + [{'schema': 2, 'file_name': n, **settings, 'caption': f'c {n}',
                                                   'pairs': [], 'has_action': False, 'negatives': []} for n in names]
    Path(path).write_text(''.join(json.dumps(l) + '\n' for l in lines) + tail)
    return Path(path)

SETTINGS = {'teacher': 'world-captions', 'caption_prompt': 'c', 'parse_prompt': 'p', 'seed': 0}

@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp('teach')
    world = build_world(WorldConfig(n_train=30, n_test=2, n_pretrain=1, seed=11), d/'world', progress=False)
    return d, world/'images'/'train', build_tiny_teacher(d/'tiny')

def teach_args(images, tiny, out):
    return ['teach', '--images', images, '--teacher', tiny, '--out', out, '--batch-size', 1, '--device', 'cpu',
            '--max-new-tokens', 48, '--quiet']

def test_killed_and_restarted_equals_uninterrupted(setup):
    d, images, tiny = setup
    r = clhoi(*teach_args(images, tiny, d/'full.jsonl')); assert r.returncode == 0, r.stderr
    full = records(d/'full.jsonl')
    assert [r['file_name'] for r in full] == sorted(p.name for p in images.glob('*.png'))

    out = d/'killed.jsonl'
    p = subprocess.Popen([*CLHOI, *map(str, teach_args(images, tiny, out))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < 120:
        if out.exists() and out.read_text().count('\n') >= 4: break       # the header and 3 records
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL); p.wait()
    n_done = out.read_text().count('\n') - 1
    assert 3 <= n_done < 30, f'the run was not killed mid-way ({n_done} records)'
    assert (d/'killed.jsonl.lock').exists()                                     # left behind by the killed run
    with open(out, 'a') as f: f.write('{"schema": 2, "file_name": "WORLD_tr')     # and a write cut off mid-line
    r = clhoi(*teach_args(images, tiny, out)); assert r.returncode == 0, r.stderr
    assert 'its last line was cut off' in r.stderr
    resumed = records(out)
    assert [x['file_name'] for x in resumed] == [x['file_name'] for x in full]         # every image exactly once
    assert resumed == full                                                               # the same answers
    assert not (d/'killed.jsonl.lock').exists()

def test_shards_merge_to_the_whole(setup):
    d, images, tiny = setup
    for i in range(3):
        r = clhoi(*teach_args(images, tiny, d/f'shard{i}.jsonl'), '--shard', f'{i}/3'); assert r.returncode == 0, r.stderr
    r = clhoi('merge', '--out', d/'merged.jsonl', '--inputs', *[d/f'shard{i}.jsonl' for i in range(3)])
    assert r.returncode == 0, r.stderr
    if not (d/'full.jsonl').exists(): clhoi(*teach_args(images, tiny, d/'full.jsonl'))
    assert records(d/'merged.jsonl') == records(d/'full.jsonl')
    assert Path(d/'merged.jsonl').read_text().splitlines()[0] == Path(d/'full.jsonl').read_text().splitlines()[0]

# --- 1. only a label cache is ever written to ---------------------------------------------------------------------

def _old_cache(): return ''.join(json.dumps({'schema': 1, 'file_name': f'{i}.png', 'caption': 'x'}) + '\n' for i in range(3))
NOT_CACHES = {  # file name: (content, the line the message names)
    'test_world.json': ('{"images": [{"file_name": "a.png"}], "annotations": []}', 'line 1 is not a label-cache header'),
    'note.txt': ('teach the test split next week\n', 'line 1 is not a label-cache header'),
    'blob.bin': (bytes(range(256)) * 16, 'line 1 is not a label-cache header'),
    'empty.jsonl': ('', 'line 1 is not a label-cache header'),
    'old.jsonl': (_old_cache(), 'line 1 is not a label-cache header: an old label cache'),
    'list.jsonl': (json.dumps({HEADER: 2, 'settings': SETTINGS}) + '\n[1, 2]\n', 'line 2 is not a record'),
    'middle.jsonl': (json.dumps({HEADER: 2, 'settings': SETTINGS}) + '\n{"schema": 2, "file_n\n{"schema": 2}\n',
                     'line 2 is not valid JSON'),
}

@pytest.mark.parametrize('name', NOT_CACHES)
def test_teach_never_changes_a_file_that_is_not_a_label_cache(setup, tmp_path, name):
    _, images, tiny = setup
    content, msg = NOT_CACHES[name]
    p = tmp_path/name; p.write_bytes(content.encode() if isinstance(content, str) else content)
    before = sha(p)
    one_line_error(clhoi(*teach_args(images, tiny, p)), f'{p}: {msg}')
    assert sha(p) == before and not Path(str(p) + '.lock').exists()

def test_teach_with_other_settings_is_refused_and_the_cache_kept(setup, tmp_path):
    d, images, tiny = setup
    out = write_cache(tmp_path/'c.jsonl', SETTINGS, ['WORLD_train_000000.png'], tail='{"schema": 2, "fi')
    before = sha(out)
    one_line_error(clhoi(*teach_args(images, tiny, out)), f"{out} was made with teacher='world-captions', not 'InstructBlipTeacher:")
    assert sha(out) == before                                      # not even the torn last line was cut off

# --- 2. merge only reads ---------------------------------------------------------------------------------------------

def test_merge_reads_its_inputs_and_writes_only_out(tmp_path):
    a = write_cache(tmp_path/'a.jsonl', SETTINGS, ['1.png', '3.png'])
    b = write_cache(tmp_path/'b.jsonl', SETTINGS, ['2.png'], tail='{"schema": 2, "file_name": "4.p')   # killed mid-line
    before = sha(a), sha(b)
    r = clhoi('merge', '--out', tmp_path/'m.jsonl', '--inputs', a, b)
    assert r.returncode == 0, r.stderr
    assert f'{b}: its last line was cut off' in r.stderr
    assert (sha(a), sha(b)) == before
    assert [x['file_name'] for x in records(tmp_path/'m.jsonl')] == ['1.png', '2.png', '3.png']
    assert json.loads((tmp_path/'m.jsonl').read_text().splitlines()[0]) == {HEADER: 2, 'settings': SETTINGS}
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.jsonl', 'b.jsonl', 'm.jsonl']   # no lock or temp file left

def test_merge_refuses_without_touching_anything(tmp_path):
    a = write_cache(tmp_path/'a.jsonl', SETTINGS, ['1.png'])
    other = write_cache(tmp_path/'other.jsonl', {**SETTINGS, 'parse_prompt': 'q'}, ['2.png'])
    note = tmp_path/'test_world.json'; note.write_text('{"images": []}')
    out = tmp_path/'out.jsonl'; out.write_text('keep me\n')
    shas = {p: sha(p) for p in (a, other, note, out)}
    one_line_error(clhoi('merge', '--out', tmp_path/'m.jsonl', '--inputs', a, note), f'{note}: line 1 is not a label-cache header')
    one_line_error(clhoi('merge', '--out', tmp_path/'m.jsonl', '--inputs', a, other),
                   f"{a} and {other} were made with different parse_prompt ('p' vs 'q')")
    one_line_error(clhoi('merge', '--out', tmp_path/'m.jsonl', '--inputs', a, tmp_path/'gone.jsonl'),
                   f"{tmp_path/'gone.jsonl'} does not exist")
    one_line_error(clhoi('merge', '--out', out, '--inputs', a), f'{out} exists: merge into a new file')
    one_line_error(clhoi('merge', '--out', a, '--inputs', a, other), f'--out {a} is also an input')
    assert {p: sha(p) for p in shas} == shas
    assert not (tmp_path/'m.jsonl').exists()

def test_merge_refuses_two_answers_for_one_image(tmp_path):
    a = write_cache(tmp_path/'a.jsonl', SETTINGS, ['1.png'])
    b = tmp_path/'b.jsonl'; b.write_text(a.read_text().replace('"c 1.png"', '"another caption"'))
    one_line_error(clhoi('merge', '--out', tmp_path/'m.jsonl', '--inputs', a, b), f'{a} and {b}: 1.png has different answers')

# --- 3. one writer per cache -----------------------------------------------------------------------------------------

def test_a_second_writer_is_refused_with_the_first_ones_pid(setup, tmp_path):
    _, images, tiny = setup
    out, lock = tmp_path/'labels.jsonl', tmp_path/'labels.jsonl.lock'
    first = subprocess.Popen([*CLHOI, *map(str, teach_args(images, tiny, out))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while not (lock.exists() and lock.read_text() == f'{first.pid}\n'):     # the first run holds the lock
            assert first.poll() is None and time.time() - t0 < 120, first.communicate()
            time.sleep(0.01)
        first.send_signal(signal.SIGSTOP)                          # and keeps it while the second one starts
        try: one_line_error(clhoi(*teach_args(images, tiny, out)), f'{out} is in use by another clhoi process (pid {first.pid})')
        finally: first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None: first.kill(); first.wait()
    assert [r['file_name'] for r in records(out)] == sorted(p.name for p in images.glob('*.png'))   # each image once

# --- 4. numbers at the edge, 6. messages -------------------------------------------------------------------------------

@pytest.mark.parametrize('option,value,msg', [
    ('--limit', -1, '--limit -1: must be at least 0'), ('--batch-size', 0, '--batch-size 0: must be at least 1'),
    ('--max-new-tokens', 0, '--max-new-tokens 0: must be between 1 and 4096'),
    ('--max-new-tokens', 4097, '--max-new-tokens 4097: must be between 1 and 4096'), ('--seed', -1, '--seed -1: must be at least 0')])
def test_numeric_options_are_checked(setup, tmp_path, option, value, msg):
    _, images, tiny = setup
    one_line_error(clhoi(*teach_args(images, tiny, tmp_path/'x.jsonl'), option, value), msg)
    assert not (tmp_path/'x.jsonl').exists()

def test_a_teacher_folder_that_is_not_one_says_why(setup, tmp_path):
    _, images, _ = setup
    missing, empty = tmp_path/'no'/'such', tmp_path/'empty'
    empty.mkdir()
    one_line_error(clhoi(*teach_args(images, missing, tmp_path/'x.jsonl')), f'{missing}: no such folder')
    one_line_error(clhoi(*teach_args(images, empty, tmp_path/'x.jsonl')),
                   f'{empty}: folder has no config.json: not a saved transformers model (save_pretrained writes one)')
    assert not (tmp_path/'x.jsonl').exists()

# --- 7. offline: one message, before torch ---------------------------------------------------------------------------

def test_offline_hub_teacher_is_one_clear_message(setup, tmp_path):
    _, images, _ = setup
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'HF_HUB_CACHE': str(tmp_path)}
    r = clhoi('teach', '--images', images, '--teacher', 'instructblip', '--out', tmp_path/'x.jsonl', env=env)
    line = one_line_error(r, "'Salesforce/instructblip-vicuna-7b' is not in the local Hugging Face cache")
    assert 'hf download Salesforce/instructblip-vicuna-7b' in line
    assert not (tmp_path/'x.jsonl').exists()

def test_offline_hub_teacher_fails_before_torch_or_the_dataset(tmp_path):
    code = ("import sys\nfrom clhoi.cli import main\n"
            f"rc = main(['teach', '--dataset', 'world', '--teacher', 'blip2', '--out', {str(tmp_path/'x.jsonl')!r}])\n"
            "print(rc, 'torch' in sys.modules, 'transformers' in sys.modules, 'clhoi.world' in sys.modules)")
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'HF_HUB_CACHE': str(tmp_path/'hub'), 'CLHOI_CACHE': str(tmp_path/'cache')}
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=120)
    assert r.stdout.split() == ['2', 'False', 'False', 'False'], (r.stdout, r.stderr)
    assert "'Salesforce/blip2-opt-2.7b' is not in the local Hugging Face cache" in r.stderr
    assert not (tmp_path/'cache').exists()                         # no World was built

# --- 5. a World on disk is described by its manifest -------------------------------------------------------------------

def test_a_world_folder_is_taught_as_its_manifest_says(setup, tmp_path):
    d, images, _ = setup                                           # a World of 30 train images, seed 11
    cache = Path(os.environ['CLHOI_CACHE'])/'world'
    before = sorted(cache.iterdir()) if cache.exists() else []
    r = clhoi('teach', '--dataset', 'world', '--root', d/'world', '--teacher', 'world-captions', '--seed', 3,
              '--out', tmp_path/'w.jsonl', '--quiet')
    assert r.returncode == 0, r.stderr
    caps = {c['file_name']: c['caption'] for c in map(json.loads, (d/'world'/'captions_train.jsonl').read_text().splitlines())}
    recs = records(tmp_path/'w.jsonl')
    assert [(x['file_name'], x['caption']) for x in recs] == sorted(caps.items())
    assert {x['seed'] for x in recs} == {3}                        # --seed seeds the negatives only ...
    assert (sorted(cache.iterdir()) if cache.exists() else []) == before   # ... and built no other World

def test_a_world_folder_without_a_manifest_is_refused(tmp_path):
    (tmp_path/'w').mkdir()
    r = clhoi('teach', '--dataset', 'world', '--root', tmp_path/'w', '--teacher', 'world-captions', '--out', tmp_path/'x.jsonl')
    one_line_error(r, 'world.json')
    assert not (tmp_path/'x.jsonl').exists() and list((tmp_path/'w').iterdir()) == []
