"""clhoi's V-COCO evaluation (clhoi.vcoco*) against an independent plain-Python port of the official code.

The port below is written from the official evaluation (`s-gupta/v-coco: vsrl_eval.py`): plain loops, one image
and one detection at a time, no code shared with clhoi.vcoco*. Where the official code is undefined (unstable sort, crashes) it follows the conventions clhoi.vcoco
documents: stable sorts ('input': Python's stable sort by descending score; 'reversed': stable ascending sort,
reversed), AP NaN for npos = 0, 0 without detections, FP on an image without ground-truth persons.
"""
import json, math, os, pickle, random, re

import numpy as np
import pytest

from clhoi.core import ClhoiError
from cli_helpers import clhoi, one_line_error
from clhoi.labels import v_coco
from clhoi.vcoco import load_vcoco_gt, VCocoGroundTruth
from clhoi.vcoco_detections import (load_vcoco_detections, save_vcoco_detections, detections_from_dicts,
                                    detections_to_dicts, VCocoDetections)
from clhoi.vcoco_ap import vcoco_ap
from clhoi.vcoco_evaluate import evaluate_vcoco, gt_from_qpic, detections_from_qpic

LAB = v_coco()
ACTIONS = list(LAB.actions)
ROLES = [list(r) for r in LAB.roles]
F32 = lambda x: float(np.float32(x))


# ---------------------------------------------------------------- random official-format inputs
def random_dataset(seed, n_images=40, n_dets=8):
    "Random vcoco_test.json (list), instances dict and detection dicts, built to hit every rule often."
    rng = random.Random(seed)
    images, anns, next_ann = [], [], 1
    persons_of, objects_of = {}, {}
    for iid in range(100, 100 + n_images):
        W, H = 640, 480
        images.append(dict(id=iid, width=W, height=H, file_name=f'COCO_val2014_{iid:012d}.jpg'))
        persons_of[iid], objects_of[iid] = [], []
        n_p = rng.choice([0, 1, 2, 3, 4]) if iid % 7 else 0       # some images without any person
        for k in range(n_p + rng.randint(0, 4)):
            cat = 1 if k < n_p else rng.choice([47, 37, 41, 62])
            x, y = rng.uniform(-20, 600), rng.uniform(-20, 440)
            w, h = rng.choice([rng.uniform(0.5, 1.5), rng.uniform(20, 200)]), rng.uniform(20, 200)
            a = dict(id=next_ann, image_id=iid, category_id=cat, bbox=[x, y, w, h], area=w * h, iscrowd=0)
            if rng.random() < .08: a['ignore'] = 1
            if rng.random() < .03: a['area'] = 0
            anns.append(a); next_ann += 1
            ok = a.get('ignore', 0) != 1 and a['area'] > 0 and w > 1.5
            if ok: (persons_of if cat == 1 else objects_of)[iid].append(a)
    # V-COCO labels: most valid persons annotated
    annotated = [(iid, p) for iid in persons_of for p in persons_of[iid] if rng.random() < .8]
    vc = []
    for a, name in enumerate(ACTIONS):
        rows, labels = [], []
        for iid, p in annotated:
            pos = rng.random() < (.5 if a in (0, 1, 6, 7, 23) else .2)
            row = [p['id']] + [0] * (len(ROLES[a]) - 1)
            if pos:
                for j in range(1, len(ROLES[a])):
                    cands = objects_of[iid] + [q for q in persons_of[iid] if q is not p]
                    if cands and rng.random() < .75: row[j] = rng.choice(cands)['id']
            rows.append(row); labels.append(int(pos))
        vc.append(dict(action_name=name, role_name=ROLES[a], image_id=[i for i, _ in annotated],
                       ann_id=[p['id'] for _, p in annotated], label=labels,
                       role_object_id=np.asarray(rows, dtype=np.int64).reshape(-1, len(ROLES[a])).T.reshape(-1).tolist(),
                       include=[[] for _ in ROLES[a]]))
    inst = dict(images=images, annotations=anns, categories=[dict(id=c, name=str(c)) for c in (1, 37, 41, 47, 62)])
    # detections
    by_image = {iid: [a for a in anns if a['image_id'] == iid] for iid in persons_of}

    def jitter(bb, s):
        x, y, w, h = bb
        return [x + rng.gauss(0, s * w), y + rng.gauss(0, s * h), x + w + rng.gauss(0, s * w), y + h + rng.gauss(0, s * h)]

    def score(): return rng.choice([round(rng.random(), 1), rng.random(), 0.0])  # many ties

    dets = []
    for iid in list(persons_of) + [999, 998]:
        for _ in range(rng.randint(0, n_dets)):
            people = [a for a in by_image.get(iid, []) if a['category_id'] == 1]
            pb = jitter(rng.choice(people)['bbox'], .12) if people and rng.random() < .85 else \
                [rng.uniform(0, 500), rng.uniform(0, 400), rng.uniform(500, 640), rng.uniform(400, 480)]
            d = {'image_id': iid, 'person_box': pb}
            for a, name in enumerate(ACTIONS):
                if rng.random() < .15: continue                              # missing key: filled
                d[f'{name}_agent'] = score()
                for r in ROLES[a][1:]:
                    u = rng.random()
                    objs = by_image.get(iid, [])
                    if u < .5 and objs: box = jitter(rng.choice(objs)['bbox'], .12)
                    elif u < .65: box = [0., 0., 0., 0.]
                    elif u < .8: box = [math.nan] * 4
                    else: box = [rng.uniform(0, 300), rng.uniform(0, 300), rng.uniform(300, 640), rng.uniform(300, 480)]
                    s = math.nan if rng.random() < .05 else score()
                    d[f'{name}_{r}'] = box + [s]
            dets.append(d)
    rng.shuffle(dets)
    return vc, inst, dets


# ---------------------------------------------------------------- the plain port
def port_vcocodb(vc, inst, split=None):
    "vsrl_eval's _get_vcocodb as loops: per image, boxes, classes, actions, role ids."
    first = vc[0]
    annotated = set(first['ann_id'])
    image_ids = sorted(set(first['image_id'])) if split is None else sorted(split)
    imgs = {im['id']: im for im in inst['images']}
    anns_of = {}
    for a in inst['annotations']: anns_of.setdefault(a['image_id'], []).append(a)
    db = []
    for iid in image_ids:
        W, H = imgs[iid]['width'], imgs[iid]['height']
        valid = []
        for a in anns_of.get(iid, []):
            if a.get('ignore', 0) == 1: continue
            x1, y1, w, h = a['bbox']
            x2, y2 = x1 + max(0., w - 1.), y1 + max(0., h - 1.)
            x1, x2 = min(W - 1., max(0., x1)), min(W - 1., max(0., x2))
            y1, y2 = min(H - 1., max(0., y1)), min(H - 1., max(0., y2))
            if a['area'] > 0 and x2 > x1 and y2 > y1: valid.append((a, [F32(x1), F32(y1), F32(x2), F32(y2)]))
        ids = [a['id'] for a, _ in valid]
        entry = {'id': iid, 'boxes': [b for _, b in valid], 'person': [a['category_id'] == 1 for a, _ in valid],
                 'actions': [], 'roles': []}
        for a, _ in valid:
            acts, roles = [-1] * 26, [[-1, -1] for _ in range(26)]
            if a['id'] in annotated:
                acts = [0] * 26
                for k, x in enumerate(vc):
                    aid = ACTIONS.index(x['action_name'])
                    n = len(x['ann_id'])
                    for m in range(n):
                        if x['ann_id'][m] == a['id'] and x['label'][m] == 1:
                            acts[aid] = 1
                            nr = len(x['role_name'])
                            for j in range(1, nr):
                                rid = x['role_object_id'][j * n + m]
                                if rid != 0: roles[aid][j - 1] = ids.index(rid)
            entry['actions'].append(acts); entry['roles'].append(roles)
        db.append(entry)
    return db


def port_overlap(boxes, ref):
    out = []
    for b in boxes:
        iw = max(min(b[2], ref[2]) - max(b[0], ref[0]) + 1., 0.)
        ih = max(min(b[3], ref[3]) - max(b[1], ref[1]) + 1., 0.)
        inter = iw * ih
        uni = (ref[2] - ref[0] + 1.) * (ref[3] - ref[1] + 1.) + (b[2] - b[0] + 1.) * (b[3] - b[1] + 1.) - inter
        out.append(inter / uni)
    return out


def port_voc_ap(rec, prec):
    mrec = [0.] + list(rec) + [1.]
    mpre = [0.] + list(prec) + [0.]
    for i in range(len(mpre) - 1, 0, -1): mpre[i - 1] = max(mpre[i - 1], mpre[i])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


def port_get(d, key):
    "CacheTemplate's fill for a missing key."
    if key in d: return d[key]
    return 0. if key.endswith('_agent') else [0., 0., .1, .1, 0.]


def port_order(scores, ties):
    "Descending order of `scores`, as argsort()[::-1] with a stable sort ('reversed') or stable by -score ('input')."
    if ties == 'input': return sorted(range(len(scores)), key=lambda j: -scores[j])
    return sorted(range(len(scores)), key=lambda j: scores[j])[::-1]


def port_eval(db, dets, ties='input', thr=.5):
    "_do_agent_eval and _do_role_eval (both scenarios) as loops; APs in [0, 1]."
    npos = [0] * 26
    agent = [[[], [], []] for _ in range(26)]                      # tp, fp, sc per action
    role = {s: {(a, j): [[], [], []] for a in range(26) for j in range(len(ROLES[a]) - 1)} for s in (1, 2)}
    for entry in db:
        gidx = [g for g in range(len(entry['boxes'])) if entry['person'][g]]
        gt_boxes = [entry['boxes'][g] for g in gidx]
        gt_actions = [entry['actions'][g] for g in gidx]
        ignore = [any(v == -1 for v in acts) for acts in gt_actions]
        for a in range(26): npos[a] += sum(acts[a] == 1 for acts in gt_actions)
        mine = [d for d in dets if d['image_id'] == entry['id']]
        pboxes = [[F32(v) for v in d['person_box']] for d in mine]

        def visit(scores, boxes, tp, fp, sc, role_check):
            covered = [False] * len(gt_boxes)
            for j in port_order(scores, ties):
                if gt_boxes:
                    ov = port_overlap(gt_boxes, boxes[j])
                    jmax = max(range(len(ov)), key=lambda g: (ov[g], -g))  # first maximum
                    ovmax = ov[jmax]
                    if ignore[jmax]: continue
                    ok = gt_actions[jmax][a] == 1 and ovmax >= thr and role_check(jmax, j)
                else: ok = False                                      # no person in the image: FP
                sc.append(scores[j])
                if ok and not covered[jmax]:
                    tp.append(1); fp.append(0); covered[jmax] = True
                else: tp.append(0); fp.append(1)

        for a in range(26):
            scores = [F32(port_get(d, f'{ACTIONS[a]}_agent')) for d in mine]
            valid = [m for m, v in enumerate(scores) if not math.isnan(v)]   # official: "remove NaNs"
            visit([scores[m] for m in valid], [pboxes[m] for m in valid], *agent[a], lambda jmax, j: True)
            for j in range(len(ROLES[a]) - 1):
                key = f'{ACTIONS[a]}_{ROLES[a][j + 1]}'
                entries = [[F32(v) for v in port_get(d, key)] for d in mine]
                keep = [m for m, e in enumerate(entries) if not math.isnan(e[4])]
                rscores = [entries[m][4] for m in keep]
                rboxes = [entries[m][:4] for m in keep]
                kboxes = [pboxes[m] for m in keep]
                for s in (1, 2):
                    def role_check(jmax, jj, s=s):
                        rid = entry['roles'][gidx[jmax]][a][j]
                        pred = rboxes[jj]
                        if rid < 0:
                            if s == 2: ov_role = 1.
                            else: ov_role = 1. if all(v == 0 for v in pred) or all(math.isnan(v) for v in pred) else 0.
                        else: ov_role = port_overlap([entry['boxes'][rid]], pred)[0]
                        return ov_role >= thr
                    visit(rscores, kboxes, *role[s][(a, j)], role_check)

    def ap(tp, fp, sc, n):
        if n == 0: return math.nan
        order = port_order(sc, ties)
        ctp = cfp = 0; rec, prec = [], []
        for i in order:
            ctp += tp[i]; cfp += fp[i]
            rec.append(ctp / n); prec.append(ctp / max(ctp + cfp, np.finfo(np.float64).eps))
        return port_voc_ap(rec, prec)

    out = {'agent': [ap(*agent[a], npos[a]) for a in range(26)], 'npos': npos}
    for s in (1, 2): out[f'role_s{s}'] = {k: ap(*v, npos[k[0]]) for k, v in role[s].items()}
    return out


def close(x, y, tol=1e-6):
    return (math.isnan(x) and math.isnan(y)) or abs(x - y) <= tol


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('ties', ['input', 'reversed'])
def test_agrees_with_plain_port(tmp_path, seed, ties):
    vc, inst, dets = random_dataset(seed)
    (tmp_path/'vc.json').write_text(json.dumps(vc)); (tmp_path/'inst.json').write_text(json.dumps(inst))
    gt = load_vcoco_gt(tmp_path/'vc.json', tmp_path/'inst.json')
    mine = vcoco_ap(gt, detections_from_dicts(dets), ties=ties)
    ref = port_eval(port_vcocodb(vc, inst), dets, ties=ties)
    assert list(mine['npos']) == ref['npos']
    assert sum(ref['npos']) > 50
    for a in range(26): assert close(mine['agent'][a], ref['agent'][a]), (ACTIONS[a], mine['agent'][a], ref['agent'][a])
    n_checked = 0
    for s in (1, 2):
        for (a, j), v in ref[f'role_s{s}'].items():
            assert close(mine[f'role_s{s}'][a, j], v), (s, ACTIONS[a], j, mine[f'role_s{s}'][a, j], v)
            n_checked += not math.isnan(v)
    assert n_checked >= 40
    # the reported numbers
    rep = evaluate_vcoco((tmp_path/'vc.json', tmp_path/'inst.json'), dets, ties=ties)
    assert close(rep['agent_ap'], np.nansum(ref['agent']) * 100 / 26)
    for s in (1, 2):
        v25 = [v for v in ref[f'role_s{s}'].values()]
        v24 = [v for (a, j), v in ref[f'role_s{s}'].items() if ACTIONS[a] != 'point']
        assert close(rep[f'role_ap_s{s}'], np.nanmean(v25) * 100, 1e-4)
        assert close(rep[f'role_ap_s{s}_24'], np.nanmean(v24) * 100, 1e-4)


def test_scenarios_differ_and_ties_matter():
    "The random inputs exercise the rules: S1 != S2 somewhere, and the tie order changes some AP."
    vc, inst, dets = random_dataset(0)
    ref_in, ref_rev = port_eval(port_vcocodb(vc, inst), dets, 'input'), port_eval(port_vcocodb(vc, inst), dets, 'reversed')
    assert any(not close(ref_in['role_s1'][k], ref_in['role_s2'][k]) for k in ref_in['role_s1'])
    assert any(not close(x, y) for x, y in zip(ref_in['agent'], ref_rev['agent']))


def test_split_subset(tmp_path):
    vc, inst, dets = random_dataset(3)
    split = sorted(set(vc[0]['image_id']))[::2]
    (tmp_path/'split.ids').write_text('\n'.join(map(str, split)) + '\n')
    gt = load_vcoco_gt(vc, inst, tmp_path/'split.ids')
    mine = vcoco_ap(gt, detections_from_dicts(dets))
    ref = port_eval(port_vcocodb(vc, inst, split), dets)
    assert all(close(x, y) for x, y in zip(mine['agent'], ref['agent']))


def test_pickle_round_trip(tmp_path):
    "Each direction against plain pickle: the library's file read by pickle.load, a pickle.dump read by the library."
    _, _, dets = random_dataset(1)
    f32 = lambda x: np.asarray(x, dtype=np.float32)                      # the official layout is float32
    save_vcoco_detections(detections_from_dicts(dets), tmp_path/'a.pkl')
    with open(tmp_path/'a.pkl', 'rb') as f:
        assert f.read(2) == b'\x80\x02'                                   # protocol 2
        f.seek(0); raw = pickle.load(f)
    assert len(raw) == len(dets) and all(len(x) == 53 for x in raw)     # image_id, person_box, 26 agents, 25 roles
    for mine, d in zip(raw, dets):                                       # every key given, value for value
        assert mine['image_id'] == d['image_id']
        for k, v in d.items():
            if k != 'image_id': assert np.array_equal(f32(mine[k]), f32(v), equal_nan=True), k
    with open(tmp_path/'b.pkl', 'wb') as f: pickle.dump(dets, f, protocol=2)
    back = load_vcoco_detections(tmp_path/'b.pkl')                      # missing keys filled as UPT's CacheTemplate
    assert back.image_ids.tolist() == [d['image_id'] for d in dets]
    assert np.array_equal(back.person_boxes, f32([d['person_box'] for d in dets]))
    fill = [0, 0, 0.1, 0.1, 0]                                           # 'hold' is action 0, 'obj' its first role
    assert np.array_equal(back.agent_scores[:, 0], f32([d.get('hold_agent', 0.0) for d in dets]), equal_nan=True)
    assert np.array_equal(back.role_boxes[:, 0, 0], f32([d.get('hold_obj', fill)[:4] for d in dets]), equal_nan=True)
    assert np.array_equal(back.role_scores[:, 0, 0], f32([d.get('hold_obj', fill)[4] for d in dets]), equal_nan=True)
    save_vcoco_detections(dets, tmp_path/'c.pkl')                         # a plain list is written as is
    with open(tmp_path/'c.pkl', 'rb') as f: assert [x.keys() for x in pickle.load(f)] == [x.keys() for x in dets]


def test_sparse_dicts_equal_dense():
    "UPT-style dicts with a few keys each (the sparse path) load as their explicitly filled copies (the dense path)."
    _, _, dets = random_dataset(2)
    keys = [f'{a}_agent' for a in ACTIONS] + [f'{a}_{r}' for a in ACTIONS for r in LAB.roles[ACTIONS.index(a)][1:]]
    rng = random.Random(0)
    sparse = [{k: v for k, v in d.items() if k in ('image_id', 'person_box') or rng.random() < .05} for d in dets]
    assert sum(map(len, sparse)) < 20 * len(sparse)
    dense = [{**{k: port_get(d, k) for k in keys}, **d} for d in sparse]
    a, b = detections_from_dicts(sparse), detections_from_dicts(dense, fill_missing=False)
    for f in ('image_ids', 'person_boxes', 'agent_scores', 'role_boxes', 'role_scores'):
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True), f
    with pytest.raises(ClhoiError, match=r"detection \d+ \(image_id .*\) has no key 'hold_agent'"):
        detections_from_dicts(sparse, fill_missing=False)


def test_empty_and_no_detections(tmp_path):
    vc, inst, _ = random_dataset(2)
    gt = load_vcoco_gt(vc, inst)
    rep = evaluate_vcoco(gt, [])
    assert rep['agent_ap'] == 0 and rep['role_ap_s1'] == 0 and rep['n_detections'] == 0
    assert len(detections_from_qpic([])) == 0


def test_qpic_matches_official_when_equivalent():
    "A QPIC-style copy of the random ground truth (boxes x + w) gives the same canonical ground truth."
    vc, inst, dets = random_dataset(4)
    gt = load_vcoco_gt(vc, inst)
    qgt = []
    for iid, boxes, cats, acts, rids in zip(gt.image_ids, gt.boxes, gt.category_ids, gt.actions, gt.role_ids):
        anns = [{'bbox': [float(b[0]), float(b[1]), float(b[2]) + 1, float(b[3]) + 1], 'category_id': int(c)}
                for b, c in zip(boxes, cats)]
        hois = []
        for g in range(len(boxes)):
            for v, (a, r) in enumerate(LAB.qpic_to_role):
                if acts[g, a] != 1: continue
                o = -1 if r == 'agent' else int(rids[g, a, ROLES[a].index(r) - 1])
                hois.append({'subject_id': g, 'object_id': o, 'category_id': v})
        qgt.append({'file_name': f'COCO_val2014_{iid:012d}.jpg', 'annotations': anns, 'hoi_annotation': hois})
    for mode in ('negative', 'ignore'):
        q = gt_from_qpic(qgt, unlabelled_persons=mode)
        assert (q.image_ids == gt.image_ids).all()
        for x, y in zip(q.boxes, gt.boxes): np.testing.assert_allclose(x, y, atol=1e-3)
        for x, y in zip(q.role_ids, gt.role_ids): assert (x == y).all()
        for x, y, c in zip(q.actions, gt.actions, gt.category_ids):
            p = c == 1
            lab_ = (y[p] == 1).any(1)                                   # persons with a positive: the same
            assert (x[p][lab_] == y[p][lab_]).all()
            assert (x[p][~lab_] == (0 if mode == 'negative' else -1)).all()


def test_bad_inputs_name_the_field(tmp_path):
    vc, inst, dets = random_dataset(5)
    d = dict(dets[0]); d.pop('hold_agent', None); d.pop('stand_agent', None)
    with pytest.raises(ClhoiError, match=r"detection 0 \(image_id .*\) has no key '(hold|stand)_agent'"):
        detections_from_dicts([d] + dets[1:], fill_missing=False)
    with pytest.raises(ClhoiError, match=r"detection 1 .*: sit_agent=-inf is infinite"):
        detections_from_dicts([dets[0], {**dets[1], 'sit_agent': -math.inf}])
    with pytest.raises(ClhoiError, match=r"ride_instr score inf is infinite"):
        detections_from_dicts([{**dets[0], 'ride_instr': [0, 0, 1, 1, math.inf]}])
    with pytest.raises(ClhoiError, match=r"person_box=\[1, 2, 3\] is not 4 number"):
        detections_from_dicts([{**dets[0], 'person_box': [1, 2, 3]}])
    with pytest.raises(ClhoiError, match=r"image_id must be an integer"):
        detections_from_dicts([{**dets[0], 'image_id': 1.5}])
    bad = [dict(x) for x in vc]; del bad[3]['label']
    with pytest.raises(ClhoiError, match=r"entry 3 has no field 'label'"): load_vcoco_gt(bad, inst)
    bad = [dict(x) for x in vc]; bad[2] = {**bad[2], 'action_name': 'dance'}
    with pytest.raises(ClhoiError, match=r"action_name 'dance' is not a V-COCO action"): load_vcoco_gt(bad, inst)
    bad = [dict(x) for x in vc]; bad[7] = {**bad[7], 'role_name': ['agent', 'instr', 'obj']}    # eat is obj, instr
    with pytest.raises(ClhoiError, match=r"action 'eat': role_name"): load_vcoco_gt(bad, inst)
    with pytest.raises(ClhoiError, match=r"needs the list 'images'"): load_vcoco_gt(vc, {'annotations': []})
    (tmp_path/'x.pkl').write_bytes(b'not a pickle')
    with pytest.raises(ClhoiError, match=r"x.pkl: not a readable pickle"): load_vcoco_detections(tmp_path/'x.pkl')
    gt = load_vcoco_gt(vc, inst)
    with pytest.raises(ClhoiError, match=r"not V-COCO detections"): evaluate_vcoco(gt, [{'a': 1}])
    with pytest.raises(ClhoiError, match=r"also give the COCO instances file \(--instances instances_vcoco_all_2014.json "
                                         r"on the command line; gt=\(vcoco_json, instances_json\) in Python\)"):
        evaluate_vcoco(vc, dets)
    with pytest.raises(ClhoiError, match=r"ties='random'"): evaluate_vcoco(gt, dets, ties='random')
    with pytest.raises(ClhoiError, match=r"scenario=3"): evaluate_vcoco(gt, dets, scenario=3)
    with pytest.raises(ClhoiError, match=r"image id 5 of the requested split is not in the ground truth"):
        evaluate_vcoco(gt, dets, split_ids=[5])
    with pytest.raises(ClhoiError, match=r"image 1: shapes boxes \(2, 3\)"):
        VCocoGroundTruth([1], [np.zeros((2, 3))], [np.zeros(2)], [np.zeros((2, 26))], [np.zeros((2, 26, 2))])
    with pytest.raises(ClhoiError, match=r"role_scores has shape \(1, 26\)"):
        VCocoDetections([1], np.zeros((1, 4)), np.zeros((1, 26)), np.zeros((1, 26, 2, 4)), np.zeros((1, 26)))


def test_scenario_selects_outputs():
    vc, inst, dets = random_dataset(0, n_images=10)
    r1 = evaluate_vcoco(load_vcoco_gt(vc, inst), dets, scenario=1)
    assert 'role_ap_s1' in r1 and 'role_ap_s2' not in r1 and len(r1['per_class_s1']) == 25 and len(r1['agent_per_action']) == 26


# ---------------------------------------------------------------- hardening
@pytest.mark.parametrize('seed', range(3))
def test_nan_agent_scores_are_dropped_as_the_official_code_does(tmp_path, seed):
    "NaN agent scores leave that (detection, action) out of agent AP (vsrl_eval's 'remove NaNs'), and are counted."
    vc, inst, dets = random_dataset(seed)
    rng = random.Random(seed)
    nan_dets, n_nan = [], 0
    for d in dets:
        d = dict(d)
        for a in ACTIONS:
            if f'{a}_agent' in d and rng.random() < .15: d[f'{a}_agent'] = math.nan; n_nan += 1
        nan_dets.append(d)
    assert n_nan > 10
    gt = load_vcoco_gt(vc, inst)
    mine = vcoco_ap(gt, detections_from_dicts(nan_dets))
    ref = port_eval(port_vcocodb(vc, inst), nan_dets)
    for a in range(26): assert close(mine['agent'][a], ref['agent'][a]), (ACTIONS[a], mine['agent'][a], ref['agent'][a])
    rep = evaluate_vcoco(gt, nan_dets)
    ids = set(int(i) for i in gt.image_ids)
    assert rep['n_nan_agent_scores'] == sum(1 for d in nan_dets if d['image_id'] in ids
                                            for a in ACTIONS if math.isnan(d.get(f'{a}_agent', 0.)))
    assert evaluate_vcoco(gt, dets)['n_nan_agent_scores'] == 0


def test_result_has_per_class_role_ap_for_each_scenario():
    vc, inst, dets = random_dataset(1, n_images=10)
    r = evaluate_vcoco(load_vcoco_gt(vc, inst), dets)
    ref = port_eval(port_vcocodb(vc, inst), dets)
    for s in (1, 2):
        assert len(r[f'per_class_s{s}']) == 25
        for (a, j), v in ref[f'role_s{s}'].items():
            assert close(r[f'per_class_s{s}'][f'{ACTIONS[a]}_{ROLES[a][j + 1]}'] / 100, v)


class _OpenFile:
    def __init__(self, path): self.path = path
    def __reduce__(self): return (open, (self.path, 'w'))


class _System:
    def __init__(self, path): self.path = path
    def __reduce__(self): return (os.system, (f'touch {self.path}',))


@pytest.mark.parametrize('evil,name', [(_OpenFile, 'io.open'), (_System, 'posix.system')])
@pytest.mark.parametrize('protocol', [2, 5])
def test_a_pickle_cannot_run_code(tmp_path, evil, name, protocol):
    victim = tmp_path/'created'
    with open(tmp_path/'evil.pkl', 'wb') as f:
        pickle.dump([{'image_id': 1, 'person_box': [0, 0, 1, 1], 'x': evil(str(victim))}], f, protocol=protocol)
    with pytest.raises(ClhoiError, match=rf"evil.pkl: refused: the pickle asks for {name}"):
        load_vcoco_detections(tmp_path/'evil.pkl')
    assert not victim.exists()


def test_numpy_values_and_cache_templates_still_load(tmp_path):
    "What real caches hold: numpy scalars and arrays (protocols 2 and 5), defaultdicts, OrderedDicts."
    from collections import OrderedDict, defaultdict
    d = {'image_id': np.int64(7), 'person_box': np.array([1., 2., 30., 40.], dtype=np.float32),
         'hold_agent': np.float32(.5), 'hold_obj': np.array([5., 6., 7., 8., .25])}
    for protocol in (2, 5):
        with open(tmp_path/'ok.pkl', 'wb') as f:
            pickle.dump([d, OrderedDict(d), defaultdict(list, d)], f, protocol=protocol)
        got = load_vcoco_detections(tmp_path/'ok.pkl')
        assert got.image_ids.tolist() == [7, 7, 7]
        assert got.person_boxes[0].tolist() == [1., 2., 30., 40.]
        assert got.role_scores[:, LAB.action_index('hold'), 0].tolist() == [.25] * 3


def test_cli_refuses_a_code_running_pickle(tmp_path):
    vc, inst, _ = random_dataset(0, n_images=5)
    (tmp_path/'vc.json').write_text(json.dumps(vc)); (tmp_path/'inst.json').write_text(json.dumps(inst))
    victim = tmp_path/'created'
    with open(tmp_path/'evil.pkl', 'wb') as f: pickle.dump([_System(str(victim))], f)
    r = clhoi('evaluate', '--dataset', 'v-coco', '--gt', tmp_path/'vc.json', '--instances', tmp_path/'inst.json',
              '--pred', tmp_path/'evil.pkl')
    one_line_error(r, 'refused: the pickle asks for posix.system')
    assert not victim.exists()
    (tmp_path/'folder.pkl').mkdir()
    r = clhoi('evaluate', '--dataset', 'v-coco', '--gt', tmp_path/'vc.json', '--instances', tmp_path/'inst.json',
              '--pred', tmp_path/'folder.pkl')
    one_line_error(r, 'folder.pkl is a folder, not a detection pickle')
    r = clhoi('evaluate', '--dataset', 'v-coco', '--gt', tmp_path/'vc.json', '--pred', tmp_path/'evil.pkl')
    one_line_error(r, 'also give the COCO instances file (--instances instances_vcoco_all_2014.json on the command line')


@pytest.mark.parametrize('content,expect', [
    ('[' * 100_000 + ']' * 100_000, 'not valid JSON'),
    ('{"images": []}', 'expected a list of dicts, got dict'),
    ('[1, 2, 3]', 'not V-COCO detections'),
    ('7', 'expected a list of dicts, got int'),
])
def test_bad_json_predictions_are_one_line(tmp_path, content, expect):
    vc, inst, _ = random_dataset(0, n_images=5)
    (tmp_path/'vc.json').write_text(json.dumps(vc)); (tmp_path/'inst.json').write_text(json.dumps(inst))
    (tmp_path/'p.json').write_text(content)
    r = clhoi('evaluate', '--dataset', 'v-coco', '--gt', tmp_path/'vc.json', '--instances', tmp_path/'inst.json',
              '--pred', tmp_path/'p.json')
    one_line_error(r, expect)


@pytest.mark.parametrize('content,expect', [
    ('[' * 100_000 + ']' * 100_000, 'inst.json: not valid JSON'),
    ('[1, 2]', 'expected a COCO instances file'),
    ('{"images": [{"id": 1}], "annotations": [3]}', "annotations[0] is 3; each needs id, image_id"),
])
def test_bad_instances_files_are_one_line(tmp_path, content, expect):
    vc, inst, dets = random_dataset(0, n_images=5)
    (tmp_path/'vc.json').write_text(json.dumps(vc)); (tmp_path/'inst.json').write_text(content)
    with pytest.raises(ClhoiError, match=re.escape(expect)): evaluate_vcoco((tmp_path/'vc.json', tmp_path/'inst.json'), dets)
