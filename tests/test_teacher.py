"`clhoi teach` as a user runs it: killed and resumed, sharded and merged, offline without a checkpoint."
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest

from clhoi.teacher import build_tiny_teacher
from clhoi.world import WorldConfig, build_world

def clhoi(*args, **kw): return subprocess.run(['clhoi', *map(str, args)], capture_output=True, text=True, timeout=300, **kw)

def records(path): return sorted((json.loads(l) for l in Path(path).read_text().splitlines()), key=lambda r: r['file_name'])

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
    p = subprocess.Popen(['clhoi', *map(str, teach_args(images, tiny, out))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < 120:
        if out.exists() and out.read_text().count('\n') >= 3: break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL); p.wait()
    n_done = out.read_text().count('\n')
    assert 3 <= n_done < 30, f'the run was not killed mid-way ({n_done} lines)'
    with open(out, 'a') as f: f.write('{"schema": 1, "file_name": "WORLD_tr')     # and a write cut off mid-line
    r = clhoi(*teach_args(images, tiny, out)); assert r.returncode == 0, r.stderr
    resumed = records(out)
    assert [x['file_name'] for x in resumed] == [x['file_name'] for x in full]         # every image exactly once
    assert resumed == full                                                               # the same answers

def test_shards_merge_to_the_whole(setup):
    d, images, tiny = setup
    for i in range(3):
        r = clhoi(*teach_args(images, tiny, d/f'shard{i}.jsonl'), '--shard', f'{i}/3'); assert r.returncode == 0, r.stderr
    r = clhoi('merge', '--out', d/'merged.jsonl', '--inputs', *[d/f'shard{i}.jsonl' for i in range(3)])
    assert r.returncode == 0, r.stderr
    if not (d/'full.jsonl').exists(): clhoi(*teach_args(images, tiny, d/'full.jsonl'))
    assert records(d/'merged.jsonl') == records(d/'full.jsonl')

def test_offline_hub_teacher_is_one_clear_message(setup, tmp_path):
    _, images, _ = setup
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'HF_HUB_CACHE': str(tmp_path)}
    r = clhoi('teach', '--images', images, '--teacher', 'instructblip', '--out', tmp_path/'x.jsonl', env=env)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert "'Salesforce/instructblip-vicuna-7b' is not in the local Hugging Face cache" in r.stderr
    assert 'hf download Salesforce/instructblip-vicuna-7b' in r.stderr
    assert not (tmp_path/'x.jsonl').exists()
