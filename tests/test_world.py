"""HOI World outside the notebook: the `clhoi world` command, byte-identical builds across processes, interrupted
builds, damaged Worlds, the manifest, stale temporary folders, file modes, and one-line errors."""
import hashlib, json, os, signal, stat, subprocess, sys, time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import clhoi, one_line_error, CLHOI
from reference_hico import COCO91                             # COCO-80 -> 91 ids, read from the shipped asset file
from clhoi.cli import main
from clhoi.core import ClhoiError
from clhoi.data import load_hoi_file
from clhoi.labels import label_space
from clhoi.world import WorldConfig, build_world, load_world, scene_counts, verify_world, world_config_from, world_label_space

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
    before, inode = tree_hash(out), (out / 'world.json').stat().st_ino
    assert main(args) == 0                                   # found, not rebuilt (a rebuild renames in a new world.json)
    assert tree_hash(out) == before and (out / 'world.json').stat().st_ino == inode

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
    assert len(list(tmp_path.glob('.w.*.tmp'))) == 1
    assert build_world(WorldConfig(**sizes), out, progress=False) == out and (out / 'world.json').is_file()
    assert list(tmp_path.glob('.w.*.tmp')) == []             # ... and the next build removes it (its owner is dead)
    assert tree_hash(out) == tree_hash(build_world(WorldConfig(**sizes), tmp_path / 'fresh', progress=False))

def test_default_cache_folder_and_label_space(tmp_path, monkeypatch):
    monkeypatch.setenv('CLHOI_CACHE', str(tmp_path))
    sizes = dict(n_train=120, n_test=4, n_pretrain=4, image_size=64)   # enough train pairs for rare and non-rare classes
    cfg = WorldConfig(seed=5, **sizes)
    out = build_world(cfg, progress=False)
    assert out == tmp_path / 'world' / f'v1-{cfg.key}'
    assert not [p for p in out.parent.iterdir() if p.name.startswith('.')]          # no temporary folder left
    L = label_space('world', seed=5, **sizes)                   # registered by clhoi.world (imported above)
    assert L.name == 'world' and L == world_label_space(seed=5, **sizes)
    # the classes counted from the written train annotations with plain json, not through clhoi.world's counter
    pairs = Counter()
    for im in json.loads((out / 'trainval_world.json').read_text()):
        cats = [b['category_id'] for b in im['annotations']]
        for h in im['hoi_annotation']: pairs[(h['category_id'] - 1, cats[h['object_id']])] += 1
    counts = [pairs[(v, COCO91[o])] for v, o in L.hois]           # (K,) verb ids are 1-based in the file
    assert sum(counts) == sum(pairs.values())                    # every written pair is one of the World's classes
    assert scene_counts(cfg).tolist() == counts
    assert L.rare == {k for k, n in enumerate(counts) if n < 10} and 0 < len(L.rare) < len(L.hois)

# ---- small Worlds for the checks below: 24 images of 64 px build in about a second ----
TINY = dict(n_train=12, n_test=6, n_pretrain=6, image_size=64)
TINY_ARGS = ['--n-train', 12, '--n-test', 6, '--n-pretrain', 6, '--image-size', 64, '--quiet']
N_FILES = 12 + 6 + 6 + 3 + 3                                  # images, three annotation files, three caption files

@pytest.fixture(scope='module')
def tiny_world(tmp_path_factory) -> Path:
    "A pristine tiny World; tests that damage one copy it first."
    return build_world(WorldConfig(seed=4, **TINY), tmp_path_factory.mktemp('tiny') / 'w', progress=False)

def copy_world(src:Path, dst:Path) -> Path:
    import shutil
    return Path(shutil.copytree(src, dst))

def test_manifest_lists_every_file_with_size_and_sha256(tiny_world):
    files = json.loads((tiny_world / 'world.json').read_text())['files']
    expected = {p.relative_to(tiny_world).as_posix(): [p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()]
                for p in tiny_world.rglob('*') if p.is_file() and p.name != 'world.json'}
    assert len(expected) == N_FILES and files == expected
    assert verify_world(tiny_world) == N_FILES

@pytest.mark.parametrize('damage', ['delete', 'truncate'])
def test_damaged_world_is_refused_by_every_reader(tiny_world, tmp_path, damage):
    w = copy_world(tiny_world, tmp_path / 'w'); png = w / 'images' / 'test' / 'WORLD_test_00000002.png'
    if damage == 'delete': png.unlink()
    else: png.write_bytes(png.read_bytes()[:100])
    why = 'missing' if damage == 'delete' else '100 bytes, expected'
    for read in (lambda: build_world(WorldConfig(seed=4, **TINY), w, progress=False),
                 lambda: load_world('train', WorldConfig(seed=4, **TINY), w),     # another split than the damaged one
                 lambda: load_world('test', root=w), lambda: verify_world(w)):
        with pytest.raises(ClhoiError) as e: read()
        msg = str(e.value)
        assert msg.startswith(f"{w}: ") and f'1 of {N_FILES} files' in msg and why in msg
        assert 'images/test/WORLD_test_00000002.png' in msg and 'delete the folder' in msg and '\n' not in msg
    line = one_line_error(clhoi('world', '--seed', 4, '--out', w, *TINY_ARGS), 'HOI World is damaged')
    assert 'WORLD_test_00000002.png' in line
    assert not png.exists() if damage == 'delete' else png.stat().st_size == 100     # the reader changed nothing

def test_verify_reads_the_bytes(tiny_world, tmp_path):
    w = copy_world(tiny_world, tmp_path / 'w')
    r = clhoi('world', '--out', w, '--verify')
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{w}: OK, all {N_FILES} files match world.json"
    cap = w / 'captions_train.jsonl'; data = cap.read_bytes()
    cap.write_bytes(data.replace(b'A person', b'A PERSON', 1))                    # same size, other bytes
    assert cap.stat().st_size == len(data) and cap.read_bytes() != data
    assert build_world(WorldConfig(seed=4, **TINY), w, progress=False) == w        # opening checks sizes only
    one_line_error(clhoi('world', '--out', w, '--verify'), 'captions_train.jsonl (content changed)')
    one_line_error(clhoi('world', '--out', tmp_path / 'nothing', '--verify'), 'holds no HOI World')
    assert not (tmp_path / 'nothing').exists()                                    # --verify builds nothing

def test_world_config_from_round_trip_and_load_world_by_folder(tiny_world):
    assert world_config_from(tiny_world) == WorldConfig(seed=4, **TINY)
    folder, images, caps = load_world('train', root=tiny_world)                   # no config: the manifest's
    assert folder == tiny_world / 'images' / 'train' and len(images) == 12 and len(caps) == 12
    assert len(load_world('pretrain', root=str(tiny_world))[1]) == 6

def _manifest(config) -> bytes: return json.dumps({'format': 2, 'config': config}).encode()
GOOD = asdict(WorldConfig(seed=4, **TINY))

@pytest.mark.parametrize('data,why', [
    (b'', 'not valid JSON'), (b'{"config": {"seed": 4, "n_tr', 'not valid JSON'), (bytes(range(256)), 'not valid JSON'),
    (b'"HOI World"', 'not an HOI World manifest'), (b'{"name": "HOI World"}', 'not an HOI World manifest'),
    (_manifest({k: v for k, v in GOOD.items() if k != 'n_test'}), 'lacks n_test'),
    (_manifest({**GOOD, 'seed': '4'}), "--seed '4': must be a whole number"),
    (_manifest({**GOOD, 'image_size': 64.0}), '--image-size 64.0: must be a whole number'),
    (_manifest({**GOOD, 'p_two_pairs': 'often'}), "--p-two-pairs 'often': must be a number"),
    (_manifest({**GOOD, 'n_train': 0}), '--n-train 0: must be at least 1')])
def test_bad_manifest_is_one_error_naming_it(tmp_path, data, why):
    (tmp_path / 'world.json').write_bytes(data)
    for read in (lambda: world_config_from(tmp_path), lambda: load_world('train', root=tmp_path),
                 lambda: build_world(WorldConfig(seed=4, **TINY), tmp_path, progress=False)):
        with pytest.raises(ClhoiError) as e: read()
        assert str(e.value).startswith(str(tmp_path / 'world.json')) and why in str(e.value) and '\n' not in str(e.value)
    line = one_line_error(clhoi('world', '--seed', 4, '--out', tmp_path, *TINY_ARGS), str(tmp_path / 'world.json'))
    assert 'delete the folder' in line
    assert (tmp_path / 'world.json').read_bytes() == data                          # the input is left as it was

def test_older_manifest_without_file_table_is_refused(tiny_world, tmp_path):
    w = copy_world(tiny_world, tmp_path / 'w'); m = json.loads((w / 'world.json').read_text())
    del m['format'], m['files']; (w / 'world.json').write_text(json.dumps(m))
    with pytest.raises(ClhoiError, match='older clhoi'): load_world('train', root=w)

def test_killed_build_tmp_is_swept_but_a_live_ones_is_left(tmp_path):
    out = tmp_path / 'w'
    dead = tmp_path / '.w.dead0001.tmp'; (dead / 'images').mkdir(parents=True)
    (dead / 'images' / 'x.png').write_bytes(b'x')
    live = tmp_path / '.w.live0001.tmp'; live.mkdir()
    other = tmp_path / '.v.dead0002.tmp'; other.mkdir()                           # another World's: not ours to sweep
    holder = subprocess.Popen([sys.executable, '-c', "import fcntl, os, sys, time\n"
                               f"fd = os.open({str(live)!r}, os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
                               "print('locked', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        assert build_world(WorldConfig(**TINY), out, progress=False) == out
        assert not dead.exists() and live.is_dir() and other.is_dir()
    finally: holder.kill(); holder.wait()
    build_world(WorldConfig(seed=1, **TINY), tmp_path / 'w2', progress=False)    # a build of another World ...
    assert live.is_dir() and other.is_dir()                                       # ... sweeps only its own name

@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGHUP])
def test_terminated_command_cleans_up(tmp_path, sig):
    out = tmp_path / 'w'
    p = subprocess.Popen([*CLHOI, 'world', '--out', str(out), '--n-train', '400', '--n-test', '6', '--n-pretrain', '6',
                          '--image-size', '64', '--quiet'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob('.w.*.tmp/images/train/*.png')): time.sleep(0.05)
    assert p.poll() is None, 'the build finished before it could be stopped'
    p.send_signal(sig); _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig and b'Traceback' not in err, err
    assert list(tmp_path.iterdir()) == []                                         # no World, no temporary folder

@pytest.mark.parametrize('mask', [0o022, 0o077])
def test_modes_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try: out = build_world(WorldConfig(**TINY), tmp_path / 'w', progress=False)
    finally: os.umask(old)
    paths = [out, *out.rglob('*')]
    assert len(paths) == 1 + 4 + N_FILES + 1                    # folders w, images, 3 splits; the files; world.json
    for p in paths:
        want = (0o777 if p.is_dir() else 0o666) & ~mask
        assert stat.S_IMODE(p.stat().st_mode) == want, (p, oct(p.stat().st_mode))

@pytest.mark.parametrize('args,why', [
    (['--n-train', -1], '--n-train -1: must be at least 1'), (['--n-test', 0], '--n-test 0: must be at least 1'),
    (['--n-pretrain', -2], '--n-pretrain -2: must be at least 0'),
    (['--image-size', 0], '--image-size 0: must be between 32 and 1024'), (['--image-size', 1], '--image-size 1: must'),
    (['--image-size', -5], '--image-size -5: must'), (['--image-size', 30000], '--image-size 30000: must'),
    (['--seed', -1], '--seed -1: must be between 0 and 2147483647'), (['--seed', 2**31], f'--seed {2**31}: must')])
def test_numbers_at_the_edge_are_one_line(tmp_path, args, why):
    one_line_error(clhoi('world', '--out', tmp_path / 'w', '--quiet', *args), why)
    assert list(tmp_path.iterdir()) == []                                         # nothing written

def test_numbers_at_the_edge_in_the_library():
    for bad, why in [(dict(n_train=-1), '--n-train -1'),
                     (dict(p_two_pairs=1.5), '--p-two-pairs 1.5: must be between 0 and 1'),
                     (dict(supersample=0), '--supersample 0'), (dict(seed=np.int64(-3)), '--seed -3'),
                     (dict(seed='3'), "--seed '3': must be a whole number"), (dict(n_test=True), 'whole number')]:
        with pytest.raises(ClhoiError, match=why.replace('.', r'\.').replace('(', r'\(')): WorldConfig(**bad)
    with pytest.raises(ClhoiError, match='--n-train 0'): world_label_space(n_train=0)
    assert WorldConfig(seed=np.int64(7)).seed == 7 and type(WorldConfig(seed=np.int64(7)).seed) is int

def test_smallest_image_size_builds(tmp_path):
    out = build_world(WorldConfig(n_train=12, n_test=6, n_pretrain=0, image_size=32), tmp_path / 'w', progress=False)
    folder, images, _ = load_world('test', root=out)
    from PIL import Image
    with Image.open(folder / images[0]['file_name']) as im: assert im.size == (32, 32)
    assert load_world('pretrain', root=out)[1] == []

def test_out_is_a_file(tmp_path):
    f = tmp_path / 'notes.txt'; f.write_text('mine')
    line = one_line_error(clhoi('world', '--out', f, *TINY_ARGS), f'--out {f} is a file; give a folder')
    assert f.read_text() == 'mine' and sorted(p.name for p in tmp_path.iterdir()) == ['notes.txt']
    with pytest.raises(ClhoiError, match='is a file'): build_world(WorldConfig(**TINY), f, progress=False)
    one_line_error(clhoi('world', '--out', f / 'w', *TINY_ARGS))                  # below a file: one line too
