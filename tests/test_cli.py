"The `clhoi` command as a user meets it: exit codes, one-line errors, JSON output."
import copy, json
from pathlib import Path

import pytest
from cli_helpers import clhoi, one_line_error

# Two images, hand-made: one person riding a motorcycle (HOI 154), one person holding a cup (HOI 298).
GT = [{'file_name': 'a.jpg', 'annotations': [{'bbox': [10, 10, 50, 90], 'category_id': 1},
                                            {'bbox': [0, 40, 80, 100], 'category_id': 4}],
       'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 77}]},
      {'file_name': 'b.jpg', 'annotations': [{'bbox': [10, 10, 50, 90], 'category_id': 1},
                                            {'bbox': [40, 40, 60, 60], 'category_id': 47}],
       'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 37}]}]

def preds_from(gt, score=0.9):
    gt = copy.deepcopy(gt)
    return [{'file_name': g['file_name'], 'predictions': g['annotations'],
             'hoi_prediction': [dict(h, score=score) for h in g['hoi_annotation']]} for g in gt]

@pytest.fixture
def files(tmp_path):
    gt, pred = tmp_path/'gt.json', tmp_path/'pred.json'
    gt.write_text(json.dumps(GT)); pred.write_text(json.dumps(preds_from(GT)))
    return gt, pred

def test_evaluate_json_perfect_detector(files):
    gt, pred = files
    r = clhoi('evaluate', '--dataset', 'hico-det', '--gt', gt, '--pred', pred, '--json')
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {'full', 'rare', 'non_rare'}
    # two classes have ground truth (ride motorcycle, hold cup), both found; the other 598 have none, so they
    # have no AP and stay out of the means; neither class is rare, so Rare has no class to average (null)
    assert out['full'] == 100 and out['non_rare'] == 100 and out['rare'] is None

def test_evaluate_table(files):
    gt, pred = files
    r = clhoi('evaluate', '--dataset', 'hico-det', '--gt', gt, '--pred', pred)
    assert r.returncode == 0 and 'Full' in r.stdout and 'Non-rare' in r.stdout

def test_evaluate_missing_file(files, tmp_path):
    gt, _ = files
    one_line_error(clhoi('evaluate', '--dataset', 'hico-det', '--gt', gt, '--pred', tmp_path/'nope.json'))

def test_evaluate_bad_json(files, tmp_path):
    gt, _ = files
    bad = tmp_path/'bad.json'; bad.write_text('[{"file_name": ')
    one_line_error(clhoi('evaluate', '--dataset', 'hico-det', '--gt', gt, '--pred', bad))

def test_evaluate_invalid_box_names_the_image(files, tmp_path):
    gt, _ = files
    p = preds_from(GT); p[1]['predictions'][1]['bbox'] = [60, 40, 40, 60]   # x2 < x1
    bad = tmp_path/'bad.json'; bad.write_text(json.dumps(p))
    r = clhoi('evaluate', '--dataset', 'hico-det', '--gt', gt, '--pred', bad)
    one_line_error(r); assert 'b.jpg' in r.stderr

def test_evaluate_image_not_in_gt(files, tmp_path):
    gt, _ = files
    p = preds_from(GT); p[1]['file_name'] = 'zzz.jpg'
    bad = tmp_path/'bad.json'; bad.write_text(json.dumps(p))
    r = clhoi('evaluate', '--dataset', 'hico-det', '--gt', gt, '--pred', bad)
    one_line_error(r); assert 'zzz.jpg' in r.stderr

def test_unknown_dataset_is_a_usage_error(files):
    gt, pred = files
    r = clhoi('evaluate', '--dataset', 'hico', '--gt', gt, '--pred', pred)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and 'invalid choice' in r.stderr

def test_evaluate_vcoco_qpic_style_json(tmp_path):
    # One person kicking a sports ball (QPIC verb 25 = kick_obj), detected exactly: every class with positives is 100.
    gt = [{'file_name': 'COCO_val2014_000000000042.jpg',
           'annotations': [{'bbox': [10, 10, 50, 90], 'category_id': 1}, {'bbox': [40, 80, 60, 100], 'category_id': 37}],
           'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 25}]}]
    pred = preds_from(gt)
    (tmp_path/'gt.json').write_text(json.dumps(gt)); (tmp_path/'pred.json').write_text(json.dumps(pred))
    r = clhoi('evaluate', '--dataset', 'v-coco', '--gt', tmp_path/'gt.json', '--pred', tmp_path/'pred.json', '--json')
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {'role_ap_s1', 'role_ap_s2', 'role_ap_s1_24', 'role_ap_s2_24'}
    assert out['role_ap_s1'] == out['role_ap_s2_24'] == 100

def test_world_then_evaluate_its_ground_truth(tmp_path):
    out = tmp_path/'world'
    r = clhoi('world', '--out', out, '--n-train', 40, '--n-test', 20, '--n-pretrain', 5, '--seed', 3, '--quiet')
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout
    manifest = json.loads((out/'world.json').read_text())
    assert manifest['config']['seed'] == 3 and manifest['config']['n_train'] == 40
    gt = json.loads((out/'test_world.json').read_text())
    (tmp_path/'pred.json').write_text(json.dumps(preds_from(gt, score=1.0)))
    r = clhoi('evaluate', '--dataset', 'world', '--gt', out/'test_world.json', '--pred', tmp_path/'pred.json', '--json')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)['full'] == 100
