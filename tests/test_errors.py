"""Every user mistake, every command: exit code 2, one line on stderr naming the culprit, no traceback, no file changed.

A table of bad arguments and bad files, fed to the real command (`python -m clhoi`). For each row the whole
scratch folder is hashed before and after: a refused command writes nothing, truncates nothing, leaves no lock
or temporary file behind.
"""
import hashlib, json, pickle
from pathlib import Path

import pytest
from cli_helpers import clhoi, one_line_error

# A two-image HICO-DET ground truth written by hand: a person riding a motorcycle (verb 77 = ride, COCO-91 id 4 =
# motorcycle, HOI 154) and a person holding a cup (verb 37 = hold, COCO-91 id 47 = cup, HOI 298).
GT = [{'file_name': 'a.jpg', 'annotations': [{'bbox': [10, 10, 50, 90], 'category_id': 1},
                                            {'bbox': [0, 40, 80, 100], 'category_id': 4}],
       'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 77, 'hoi_category_id': 154}]},
      {'file_name': 'b.jpg', 'annotations': [{'bbox': [10, 10, 50, 90], 'category_id': 1},
                                            {'bbox': [40, 40, 60, 60], 'category_id': 47}],
       'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 37, 'hoi_category_id': 298}]}]
# One person kicking a sports ball in V-COCO's QPIC-style format (QPIC verb 25 = kick_obj, COCO-91 37 = sports ball).
VCOCO_GT = [{'file_name': 'COCO_val2014_000000000042.jpg',
             'annotations': [{'bbox': [10, 10, 50, 90], 'category_id': 1}, {'bbox': [40, 80, 60, 100], 'category_id': 37}],
             'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 25}]}]
PRED = [{'file_name': g['file_name'], 'predictions': g['annotations'],
         'hoi_prediction': [dict(h, score=0.9) for h in g['hoi_annotation']]} for g in GT]

class Evil:
    "A pickle that would create a file when loaded: an allow-listing unpickler must refuse it."
    def __init__(self, path): self.path = path
    def __reduce__(self): return (open, (self.path, 'w'))

def _files(d:Path) -> dict:
    "Every file below d (hidden ones too) with its sha256: the state that no refused command may change."
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob('*')) if p.is_file()}

def _scratch(d:Path):
    "The bad (and good) files the rows point at."
    (d/'gt.json').write_text(json.dumps(GT)); (d/'pred.json').write_text(json.dumps(PRED))
    (d/'vcoco_gt.json').write_text(json.dumps(VCOCO_GT))
    (d/'binary.json').write_bytes(bytes(range(256)) * 4)
    (d/'cut.json').write_text(json.dumps(GT)[:-7])
    (d/'deep.json').write_text('[' * 100_000 + ']' * 100_000)
    (d/'numbers.json').write_text('[1, 2, 3]')
    (d/'object.json').write_text('{"images": []}')
    (d/'note.txt').write_text('my notes, keep them\n')
    (d/'one_line.json').write_text(json.dumps(GT) + '\n')
    (d/'folder.pkl').mkdir()
    (d/'folder.json').mkdir()
    nopairs = [dict(g, hoi_annotation=[]) for g in GT]
    (d/'gt_no_pairs.json').write_text(json.dumps(nopairs))
    wrong = json.loads(json.dumps(GT)); wrong[1]['hoi_annotation'][0]['hoi_category_id'] = 154   # hold cup is 298
    (d/'gt_wrong_hoi.json').write_text(json.dumps(wrong))
    with open(d/'evil.pkl', 'wb') as f: pickle.dump([Evil(str(d/'pwned'))], f)
    for name, manifest in [('w_cut', '{"config": {"seed": 0'), ('w_binary', bytes(range(256))), ('w_list', '[1, 2]'),
                           ('w_nokeys', '{"name": "HOI World"}'), ('w_strseed', '{"config": {"seed": "zero"}}')]:
        (d/name).mkdir()
        (d/name/'world.json').write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode())
        (d/name/'test_world.json').write_text('[]')
    (d/'cache_list.jsonl').write_text('[1, 2, 3]\n')
    (d/'empty_model').mkdir()

E = ['evaluate', '--dataset', 'hico-det']
ROWS = [  # (id, arguments with {d} for the scratch folder, a word the one line must contain)
    ('eval-missing-pred',   [*E, '--gt', '{d}/gt.json', '--pred', '{d}/nope.json'], 'nope.json'),
    ('eval-pred-folder',    [*E, '--gt', '{d}/gt.json', '--pred', '{d}/folder.json'], 'folder'),
    ('eval-gt-binary',      [*E, '--gt', '{d}/binary.json', '--pred', '{d}/pred.json'], 'binary.json'),
    ('eval-gt-cut',         [*E, '--gt', '{d}/cut.json', '--pred', '{d}/pred.json'], 'cut.json'),
    ('eval-gt-deep',        [*E, '--gt', '{d}/deep.json', '--pred', '{d}/pred.json'], 'deep.json'),
    ('eval-gt-numbers',     [*E, '--gt', '{d}/numbers.json', '--pred', '{d}/pred.json'], 'numbers.json'),
    ('eval-gt-object',      [*E, '--gt', '{d}/object.json', '--pred', '{d}/pred.json'], 'object.json'),
    ('eval-gt-no-pairs',    [*E, '--gt', '{d}/gt_no_pairs.json', '--pred', '{d}/pred.json'], 'gt_no_pairs.json'),
    ('eval-gt-wrong-hoi',   [*E, '--gt', '{d}/gt_wrong_hoi.json', '--pred', '{d}/pred.json'], 'b.jpg'),
    ('eval-bad-dataset',    ['evaluate', '--dataset', 'hico', '--gt', '{d}/gt.json', '--pred', '{d}/pred.json'], 'hico'),
    ('eval-world-no-manifest', ['evaluate', '--dataset', 'world', '--gt', '{d}/gt.json', '--pred', '{d}/pred.json'],
                            'world.json'),
    *[(f'eval-world-{w}', ['evaluate', '--dataset', 'world', '--gt', f'{{d}}/{w}/test_world.json', '--pred',
                           '{d}/pred.json'], 'world.json')
      for w in ('w_cut', 'w_binary', 'w_list', 'w_nokeys', 'w_strseed')],
    ('eval-vcoco-evil-pickle', ['evaluate', '--dataset', 'v-coco', '--gt', '{d}/vcoco_gt.json', '--pred', '{d}/evil.pkl'],
                            'evil.pkl'),
    ('eval-vcoco-pkl-folder', ['evaluate', '--dataset', 'v-coco', '--gt', '{d}/vcoco_gt.json', '--pred', '{d}/folder.pkl'],
                            'folder'),
    ('teach-limit-negative', ['teach', '--limit', '-1', '--out', '{d}/labels.jsonl'], '--limit -1'),
    ('teach-batch-zero',    ['teach', '--batch-size', '0', '--out', '{d}/labels.jsonl'], '--batch-size 0'),
    ('teach-seed-negative', ['teach', '--seed', '-1', '--out', '{d}/labels.jsonl'], '--seed -1'),
    ('teach-tokens-zero',   ['teach', '--max-new-tokens', '0', '--out', '{d}/labels.jsonl'], '--max-new-tokens 0'),
    ('teach-bad-shard',     ['teach', '--shard', '3/2', '--out', '{d}/labels.jsonl'], '--shard'),
    ('teach-out-json',      ['teach', '--out', '{d}/one_line.json'], 'one_line.json'),
    ('teach-out-note',      ['teach', '--out', '{d}/note.txt'], 'note.txt'),
    ('teach-out-binary',    ['teach', '--out', '{d}/binary.json'], 'binary.json'),
    ('teach-out-folder',    ['teach', '--out', '{d}/folder.json'], 'folder.json'),
    ('teach-cache-list',    ['teach', '--out', '{d}/cache_list.jsonl'], 'cache_list.jsonl'),
    ('teach-no-teacher-dir', ['teach', '--teacher', '{d}/no/such/model', '--out', '{d}/labels.jsonl'], 'no/such/model'),
    ('teach-empty-model',   ['teach', '--teacher', '{d}/empty_model', '--out', '{d}/labels.jsonl'], 'empty_model'),
    ('teach-root-not-world', ['teach', '--root', '{d}/folder.json', '--out', '{d}/labels.jsonl'], 'world.json'),
    ('merge-missing-input', ['merge', '--out', '{d}/merged.jsonl', '--inputs', '{d}/nope.jsonl'], 'nope.jsonl'),
    ('merge-not-a-cache',   ['merge', '--out', '{d}/merged.jsonl', '--inputs', '{d}/one_line.json'], 'one_line.json'),
    ('merge-out-exists',    ['merge', '--out', '{d}/note.txt', '--inputs', '{d}/one_line.json'], 'note.txt'),
    ('world-n-train-negative', ['world', '--n-train', '-1', '--out', '{d}/w'], '--n-train -1'),
    *[(f'world-image-size-{s}', ['world', '--image-size', s, '--out', '{d}/w'], f'--image-size {s}')
      for s in ('0', '1', '-5', '30000')],
    ('world-seed-negative', ['world', '--seed', '-1', '--out', '{d}/w'], '--seed -1'),
    ('world-out-file',      ['world', '--out', '{d}/note.txt'], 'note.txt'),
    ('world-out-bad-manifest', ['world', '--out', '{d}/w_cut'], 'w_cut'),
    ('unknown-option',      ['world', '--colour', 'red'], '--colour'),
    ('not-a-number',        ['world', '--n-train', 'many'], 'many'),
]

@pytest.mark.parametrize('name,args,word', ROWS, ids=[r[0] for r in ROWS])
def test_one_clear_line(tmp_path, name, args, word):
    _scratch(tmp_path)
    before = _files(tmp_path)
    r = clhoi(*[a.format(d=tmp_path) for a in args], timeout=120)
    one_line_error(r, word)
    assert _files(tmp_path) == before, f'{name}: the command changed files it was not asked to write'
    assert not (tmp_path/'pwned').exists()
