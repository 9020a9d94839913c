"""clhoi.data outside the notebook: files on disk, interrupted saves, fuzzed inputs, speed."""
import copy, json, random, time

import numpy as np
import pytest

import clhoi.data as data
from clhoi.core import ClhoiError
from clhoi.data import check_predictions_match, hoi_arrays, load_hoi_file, save_hoi_file
from clhoi.labels import hico_det, v_coco

GT = [{'file_name': 'a.jpg',
       'annotations': [{'bbox': [120, 44, 310, 402], 'category_id': 1}, {'bbox': [60, 210, 480, 460], 'category_id': 4}],
       'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 77, 'hoi_category_id': 154},
                          {'subject_id': 0, 'object_id': 1, 'category_id': 88}]},
      {'file_name': 'b.jpg',
       'annotations': [{'bbox': [15, 20, 200, 380], 'category_id': 1}, {'bbox': [150, 90, 190, 140], 'category_id': 47}],
       'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 37}]},
      {'file_name': 'empty.jpg', 'annotations': [], 'hoi_annotation': []}]
PRED = [{'filename': 'a.jpg',
         'predictions': [{'bbox': [118.2, 40.9, 312.5, 399.0], 'category_id': 1}, {'bbox': [62.0, 205.3, 477.1, 462.8], 'category_id': 4}],
         'hoi_prediction': [{'subject_id': 0, 'object_id': 1, 'category_id': 77, 'score': 0.81},
                            {'subject_id': 0, 'object_id': 1, 'category_id': 3, 'score': 0.42}]}]

def test_round_trip_through_a_file(tmp_path):
    p = save_hoi_file(PRED, tmp_path/'pred.json', labels=hico_det())
    back = load_hoi_file(p, 'pred', hico_det())
    assert back[0]['file_name'] == 'a.jpg' and 'filename' not in back[0]
    assert back[0]['hoi_prediction'] == PRED[0]['hoi_prediction']
    assert load_hoi_file(save_hoi_file(GT, tmp_path/'gt.json')) == GT
    a = hoi_arrays(tmp_path/'gt.json', 'gt', hico_det())
    assert a.name == 'gt.json' and len(a) == 3 and a.box_start.tolist() == [0, 2, 4, 4] and a.hoi_start.tolist() == [0, 2, 3, 3]

def test_numpy_values_are_saved_as_plain_json(tmp_path):
    gt = copy.deepcopy(GT)
    gt[0]['annotations'][0]['bbox'] = np.array([120, 44, 310, 402], dtype=np.float32)
    gt[0]['annotations'][0]['category_id'] = np.int64(1)
    save_hoi_file(gt, tmp_path/'gt.json')
    assert json.loads((tmp_path/'gt.json').read_text())[0]['annotations'][0] == {'bbox': [120.0, 44.0, 310.0, 402.0], 'category_id': 1}

def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    target = save_hoi_file(GT, tmp_path/'gt.json')
    before = target.read_text()
    def boom(obj, f, **kw): f.write('[{"file_name": '); raise KeyboardInterrupt
    monkeypatch.setattr(data.json, 'dump', boom)
    with pytest.raises(KeyboardInterrupt): save_hoi_file(GT[:1], target)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ['gt.json']        # no temporary file left behind

def test_wrong_kind_and_wrong_file_type():
    with pytest.raises(ClhoiError, match="kind='x'"): load_hoi_file(GT, 'x')
    with pytest.raises(ClhoiError, match='is this a ground-truth file'): load_hoi_file(GT, 'pred')
    with pytest.raises(ClhoiError, match='is this a prediction file'): load_hoi_file(PRED, 'gt')

def test_check_predictions_match_takes_arrays():
    check_predictions_match(hoi_arrays(PRED, 'pred'), hoi_arrays(GT))
    with pytest.raises(ClhoiError, match=r"p.json: 1 image\(s\) are not in g.json: a.jpg"):
        check_predictions_match(PRED, GT[1:], 'p.json', 'g.json')

GT_VCOCO = [{'file_name': im['file_name'], 'annotations': im['annotations'],
             'hoi_annotation': [{'subject_id': h['subject_id'], 'object_id': -1 if j else h['object_id'], 'category_id': j + 1}
                                for j, h in enumerate(im['hoi_annotation'])]} for im in GT]

def test_vcoco_files_load():
    assert hoi_arrays(GT_VCOCO, 'gt', v_coco()).object.tolist() == [1, -1, 3]

JUNK = [None, -1, 0, 3, 2.5, 1e308, float('nan'), float('-inf'), 'x', '1', [], [1, 2], [1, 2, 3, 4, 5],
        [0, 0, 'a', 1], {}, True, 10**30]

def _leaves(x, path=()):
    "Paths of every value inside nested lists/dicts."
    if isinstance(x, dict):
        for k, v in x.items(): yield from _leaves(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x): yield from _leaves(v, path + (i,))
    yield path

@pytest.mark.parametrize('kind,src,labels', [('gt', GT, hico_det()), ('pred', PRED, hico_det()), ('gt', GT, None),
                                             ('gt', GT_VCOCO, v_coco())])
def test_fuzzed_files_fail_with_clhoi_errors_only(kind, src, labels):
    "Any single corrupted or deleted value either still loads or raises a ClhoiError naming the file; the input is never changed."
    rng = random.Random(0)
    paths = [p for p in _leaves(src) if p]
    for trial in range(400):
        d = copy.deepcopy(src)
        path = rng.choice(paths)
        parent = d
        for k in path[:-1]: parent = parent[k]
        if rng.random() < 0.2 and isinstance(parent, dict): del parent[path[-1]]
        else: parent[path[-1]] = copy.deepcopy(rng.choice(JUNK))
        frozen = json.dumps(d, default=str)
        try: out = load_hoi_file(d, kind, labels, name='fuzz.json')
        except ClhoiError as e: assert str(e).startswith('fuzz.json'), str(e)
        else: assert len(out) == len(d)
        assert json.dumps(d, default=str) == frozen

def test_validation_is_fast():
    "300k triplets (a third of a HICO-DET prediction file) validate in a few seconds at most."
    rng = np.random.default_rng(0)
    boxes = [{'bbox': [1.0, 2.0, 30.5, 40.0], 'category_id': 1}] + [{'bbox': [5.0, 6.0, 70.0, 80.0], 'category_id': 4}] * 19
    preds = [{'file_name': f'{i}.jpg', 'predictions': boxes,
              'hoi_prediction': [{'subject_id': 0, 'object_id': int(o), 'category_id': 77, 'score': float(s)}
                                 for o, s in zip(rng.integers(1, 20, 100), rng.random(100))]} for i in range(3000)]
    t = time.perf_counter(); a = hoi_arrays(preds, 'pred', hico_det()); dt = time.perf_counter() - t
    assert len(a.score) == 300_000 and dt < 5, dt
