"""clhoi.data outside the notebook: files on disk, interrupted saves, fuzzed inputs, speed."""
import copy, gc, json, os, random, re

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
    def boom(fd): raise KeyboardInterrupt                            # interrupted after the data was written
    monkeypatch.setattr(os, 'fsync', boom)
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

def test_valid_files_are_decoded_without_the_stdlib_json(tmp_path, monkeypatch):
    "The fast decoder (orjson, through core.read_json) reads a valid file; Python's json is not used at all."
    p = save_hoi_file(PRED, tmp_path/'pred.json')
    def slow(*a, **k): raise AssertionError('stdlib json used')
    monkeypatch.setattr(json, 'loads', slow); monkeypatch.setattr(json, 'load', slow)
    assert hoi_arrays(p, 'pred', hico_det()).score.tolist() == [0.81, 0.42]

def test_the_collector_is_restored(tmp_path):
    p = save_hoi_file(PRED, tmp_path/'pred.json')
    hoi_arrays(p, 'pred', hico_det())
    assert gc.isenabled()
    with pytest.raises(ClhoiError): hoi_arrays([{'file_name': 'x'}], 'pred')
    assert gc.isenabled()

def test_large_columns_match_a_plain_loop():
    "The whole-column fast path gives exactly what a loop over the entries gives."
    rng = np.random.default_rng(0)
    boxes = [{'bbox': [float(x) for x in np.sort(rng.uniform(0, 500, 4).reshape(2, 2), 0).reshape(-1)], 'category_id': int(c)}
             for c in rng.choice([1, 4, 47], 3000)]
    boxes[0]['category_id'] = 1
    preds = [{'file_name': f'{i}.jpg', 'predictions': boxes[i * 30:(i + 1) * 30],
              'hoi_prediction': [{'subject_id': 0, 'object_id': int(o), 'category_id': 1, 'score': float(s)}
                                 for o, s in zip(rng.integers(0, 30, 50), rng.random(50))]} for i in range(100)]
    for im in preds: im['predictions'][0] = {'bbox': [1, 2, 3, 4], 'category_id': 1}      # ints are numbers too
    a = hoi_arrays(preds, 'pred')
    assert a.boxes.tolist() == [[float(v) for v in b['bbox']] for im in preds for b in im['predictions']]
    assert a.score.tolist() == [h['score'] for im in preds for h in im['hoi_prediction']]
    assert a.object.tolist() == [30 * i + h['object_id'] for i, im in enumerate(preds) for h in im['hoi_prediction']]

def test_hoi_category_id_must_agree_with_verb_and_object(tmp_path):
    gt = copy.deepcopy(GT)
    gt[1]['hoi_annotation'][0]['hoi_category_id'] = 155      # hold cup: hoi_idx 297, id 298; 155 is sit_on motorcycle
    with pytest.raises(ClhoiError, match=r"gt.json: image 1 \(b.jpg\): hoi_annotation\[0\].hoi_category_id: 155 contradicts "
                                         r"its \(verb, object\) \(hold, cup\), which is HOI class 298"):
        hoi_arrays(gt, 'gt', hico_det(), name='gt.json')
    gt[1]['hoi_annotation'][0]['hoi_category_id'] = 298
    assert len(hoi_arrays(gt, 'gt', hico_det())) == 3                # triplets without the key are not checked
    gt[0]['hoi_annotation'][1]['hoi_category_id'] = 0
    with pytest.raises(ClhoiError, match=r"hoi_annotation\[1\].hoi_category_id: 0 is not in 1..600"): hoi_arrays(gt, 'gt', hico_det())

@pytest.mark.parametrize('content,expect', [
    ('[' * 100_000 + ']' * 100_000, 'not valid JSON'),
    ('[{"file_name": "a.jpg", "annotations": [{"bbox": ' + '[' * 5000 + ']' * 5000 + '}]}]', 'not valid JSON'),
    ('{"file_name": "a.jpg"}', 'expected a JSON list with one dict per image, got dict'),
    ('[1, 2]', 'image 0 is 1; expected a dict'),
    ('"text"', 'expected a JSON list with one dict per image, got str'),
    ('[{"file_name": "a.jpg", "annotations": [{"bbox": [NaN, 0, 1, 1], "category_id": 1}], "hoi_annotation": []}]',
     'annotations[0].bbox: [nan, 0, 1, 1] has a non-finite coordinate'),
])
def test_bad_files_are_one_line_errors(tmp_path, content, expect):
    (tmp_path/'gt.json').write_text(content)
    with pytest.raises(ClhoiError, match=re.escape(expect)) as e: hoi_arrays(tmp_path/'gt.json', 'gt', hico_det())
    assert len(str(e.value).splitlines()) == 1 and 'gt.json' in str(e.value)

def test_a_folder_is_named_as_one(tmp_path):
    with pytest.raises(ClhoiError, match='is a folder'): hoi_arrays(tmp_path, 'gt')
