"HOI World outside the notebook: the `clhoi world` command, byte-identical builds across processes, interrupted builds."
import hashlib, json, os, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest

from clhoi.cli import main
from clhoi.data import load_hoi_file
from clhoi.labels import label_space
from clhoi.world import WorldConfig, build_world, scene_counts, world_label_space

SMALL = dict(n_train=12, n_test=8, n_pretrain=4)

def tree_hash(folder:Path) -> str:
    h = hashlib.sha1()
    for p in sorted(folder.rglob('*')):
        if p.is_file(): h.update(str(p.relative_to(folder)).encode()); h.update(p.read_bytes())
    return h.hexdigest()

def _build_in_subprocess(out:Path, seed:int=0, hashseed:str='0', **sizes) -> subprocess.Popen:
    code = (f"from clhoi.world import WorldConfig, build_world; "
            f"build_world(WorldConfig(seed={seed}, **{sizes!r}), {str(out)!r}, progress=False)")
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    return subprocess.Popen([sys.executable, '-c', code], env=env)

def test_world_command(tmp_path, capsys):
    out = tmp_path / 'w'
    args = ['world', '--seed', '3', '--out', str(out), '--n-train', '12', '--n-test', '8', '--n-pretrain', '4', '--quiet']
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == str(out)
    labels = world_label_space(seed=3, **SMALL)
    for name, n in [('trainval', 12), ('test', 8), ('pretrain', 4)]:
        images = load_hoi_file(out / f'{name}_world.json', 'gt', labels)
        assert len(images) == n
        assert all((out / 'images' / ('train' if name == 'trainval' else name) / im['file_name']).is_file() for im in images)
    caps = [json.loads(l) for l in (out / 'captions_train.jsonl').read_text().splitlines()]
    assert [c['file_name'] for c in caps] == [f'WORLD_train_{i:08d}.png' for i in range(1, 13)]
    manifest = json.loads((out / 'world.json').read_text())
    assert manifest['config']['seed'] == 3 and manifest['rare'] == sorted(labels.rare)
    before = tree_hash(out)
    t0 = time.time(); assert main(args) == 0; assert time.time() - t0 < 2     # found, not rebuilt
    assert tree_hash(out) == before

def test_world_command_help(capsys):
    assert main(['world', '--help']) == 0
    assert '--n-train' in capsys.readouterr().out

def test_same_seed_same_bytes_across_processes(tmp_path):
    a, b = _build_in_subprocess(tmp_path / 'a', hashseed='1', **SMALL), _build_in_subprocess(tmp_path / 'b', hashseed='2', **SMALL)
    assert a.wait() == 0 and b.wait() == 0
    assert tree_hash(tmp_path / 'a') == tree_hash(tmp_path / 'b')
    build_world(WorldConfig(seed=1, **SMALL), tmp_path / 'c', progress=False)
    assert tree_hash(tmp_path / 'c') != tree_hash(tmp_path / 'a')

def test_killed_build_leaves_no_complete_looking_folder(tmp_path):
    out, sizes = tmp_path / 'w', dict(n_train=400, n_test=10, n_pretrain=10)
    p = _build_in_subprocess(out, **sizes)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob('.w.*.tmp/images/train/*.png')): time.sleep(0.05)
    assert p.poll() is None, 'the build finished before it could be interrupted'
    p.send_signal(signal.SIGKILL); p.wait()
    assert not out.exists()                                  # only a hidden temporary folder is left behind
    assert build_world(WorldConfig(**sizes), out, progress=False) == out and (out / 'world.json').is_file()
    assert tree_hash(out) == tree_hash(build_world(WorldConfig(**sizes), tmp_path / 'fresh', progress=False))

def test_default_cache_folder_and_label_space(tmp_path, monkeypatch):
    monkeypatch.setenv('CLHOI_CACHE', str(tmp_path))
    cfg = WorldConfig(seed=5, **SMALL)
    out = build_world(cfg, progress=False)
    assert out == tmp_path / 'world' / f'v1-{cfg.key}'
    assert not [p for p in out.parent.iterdir() if p.name.startswith('.')]          # no temporary folder left
    L = label_space('world', seed=5, **SMALL)
    assert L.name == 'world' and L.rare == frozenset(np.flatnonzero(scene_counts(cfg) < 10).tolist())
