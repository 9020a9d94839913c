"""An independent plain-Python implementation of the official HICO-DET rules (ywchao/ho-rcnn
`VOCevaldet_bboxpair.m`): one class at a time, one detection at a time, with loops.

It shares no code with `clhoi`: the class tables are read here, with the csv module, from the files shipped in
`clhoi/assets/` (not through `clhoi.labels`), so a wrong table in the library disagrees with this one. Used by
`tests/test_evaluation.py`, `nbs/20_evaluation.ipynb` (its large example) and `benchmarks/eval_speed.py`."""
import csv, math
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1]/'clhoi'/'assets'

def _rows(name):
    "Rows of a tab-separated asset file as lists of strings; '#' lines are comments."
    with open(ASSETS/name, newline='') as f:
        return [r for r in csv.reader(f, delimiter='\t') if r and not r[0].startswith('#')]

# COCO-80 index -> COCO category id (91-id scheme): columns hico_obj_idx, name, coco_category_id, coco80_idx, name
COCO91 = [c for _, c in sorted((int(r[3]), int(r[2])) for r in _rows('hico_objects.txt'))]     # (80,)
TO80 = {c: i for i, c in enumerate(COCO91)}                                                      # coco91 id -> 0..79
with open(ASSETS/'hico_hoi_classes.tsv', newline='') as _f:
    _hoi = sorted(csv.DictReader(_f, delimiter='\t'), key=lambda r: int(r['hoi_id']))
HICO_HOIS = tuple((int(r['verb_idx']), int(r['object_idx_coco80'])) for r in _hoi)               # (600,) (verb, obj80)
HICO_VERBS = tuple(r[0] for r in _rows('hico_verbs.txt'))                                        # (117,)
HICO_RARE = frozenset(int(r[0]) - 1 for r in _rows('hico_rare_hois.txt'))                        # 138 hoi_idx
assert len(COCO91) == 80 and len(HICO_HOIS) == 600 and len(HICO_VERBS) == 117 and len(HICO_RARE) == 138
assert [int(r['hoi_id']) for r in _hoi] == list(range(1, 601))
assert HICO_RARE == {int(r['hoi_id']) - 1 for r in _hoi if r['rare'] == '1'}    # the two asset files agree

def ref_iou(a, b):
    "IoU with the +1-pixel convention; 0 when the boxes share no pixel."
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0: return 0.0
    ua = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - iw * ih
    return iw * ih / ua

def ref_ap(tp, npos, mode='11p_matlab'):
    "(AP, max recall) of one class from its ranked TP flags; NaN for both without ground truth."
    if npos == 0: return float('nan'), float('nan')
    rec, prec, c = [], [], 0
    for i, t in enumerate(tp, 1):
        c += t; rec.append(c / npos); prec.append(c / i)
    if not tp: return 0.0, 0.0
    if mode == 'all_point':
        mrec, mpre = [0.0] + rec + [1.0], [0.0] + prec + [0.0]
        for i in range(len(mpre) - 2, -1, -1): mpre[i] = max(mpre[i], mpre[i + 1])
        return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i]), rec[-1]
    ts = [k / 10 for k in range(11)] if mode == '11p_matlab' else [k * 0.1 for k in range(11)]  # MATLAB k/10; np.arange
    ap = 0.0
    for t in ts:
        ps = [p for r, p in zip(rec, prec) if r >= t]
        ap += (max(ps) if ps else 0.0) / 11
    return ap, rec[-1]

def _mean(xs):
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float('nan')

def ref_evaluate(gt, preds, hois=HICO_HOIS, offset=1, rare=HICO_RARE, ap_mode='11p_matlab', iou_cmp='>=',
                 max_per_image=None, images='all', known_object=False):
    """Per-class AP and recall (fractions), npos, and the Full / Rare / Non-rare means of QPIC-style lists `gt`
    and `preds`, for the classes `hois` ((verb index, COCO-80 object index), verb ids in the files = index +
    `offset`). Options as `clhoi.evaluation.evaluate_hicodet`'s."""
    cls = {(v, o): k for k, (v, o) in enumerate(hois)}
    K = len(hois)
    gt_pairs = [{} for _ in range(K)]     # class -> file -> [(human box, object box)] in file order
    npos, n_pairs, objects_in = [0] * K, {}, {}
    for im in gt:
        fn, boxes = im['file_name'], im['annotations']
        n_pairs[fn] = len(im['hoi_annotation'])
        for h in im['hoi_annotation']:
            k = cls[(h['category_id'] - offset, TO80[boxes[h['object_id']]['category_id']])]
            gt_pairs[k].setdefault(fn, []).append((boxes[h['subject_id']]['bbox'], boxes[h['object_id']]['bbox']))
            npos[k] += 1
        objects_in[fn] = {TO80[b['category_id']] for b in boxes}   # Known-Object: any GT box of the object
    dets = [[] for _ in range(K)]          # class -> [(score, position, file, human box, object box)]
    position = 0
    for im in preds:
        fn = im.get('file_name', im.get('filename'))
        boxes, cand = im['predictions'], []
        for h in im['hoi_prediction']:
            position += 1
            k = cls.get((h['category_id'] - offset, TO80[boxes[h['object_id']]['category_id']]))
            if k is None: continue          # not an HOI class: dropped
            cand.append((h['score'], position, k, boxes[h['subject_id']]['bbox'], boxes[h['object_id']]['bbox']))
        if max_per_image is not None: cand = sorted(cand, key=lambda c: -c[0])[:max_per_image]   # stable
        for s, p, k, hb, ob in cand:
            if images == 'non_empty' and n_pairs[fn] == 0: continue
            if known_object and hois[k][1] not in objects_in[fn]: continue
            dets[k].append((s, p, fn, hb, ob))
    aps, recs = [], []
    for k in range(K):
        taken = {fn: [False] * len(g) for fn, g in gt_pairs[k].items()}
        tp = []
        for s, p, fn, hb, ob in sorted(dets[k], key=lambda d: (-d[0], d[1])):
            ovmax, jmax = -math.inf, -1
            for j, (gh, go) in enumerate(gt_pairs[k].get(fn, [])):
                ov = min(ref_iou(hb, gh), ref_iou(ob, go))
                if ov > ovmax: ovmax, jmax = ov, j
            ok = ovmax >= 0.5 if iou_cmp == '>=' else ovmax > 0.5
            if ok and not taken[fn][jmax]:
                taken[fn][jmax] = True; tp.append(1)
            else: tp.append(0)
        ap, rec = ref_ap(tp, npos[k], ap_mode)
        aps.append(ap); recs.append(rec)
    return {'ap': aps, 'recall': recs, 'npos': npos, 'full': _mean(aps),
            'rare': _mean([a for k, a in enumerate(aps) if k in rare]),
            'non_rare': _mean([a for k, a in enumerate(aps) if k not in rare])}
