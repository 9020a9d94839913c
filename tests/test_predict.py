"`clhoi predict` end to end on a small HOI World: a file `clhoi evaluate` accepts, drawings, and the user's errors."
import json
from pathlib import Path

import pytest
from PIL import Image

from cli_helpers import clhoi, one_line_error

def load_student_ok(path) -> bool:
    "The checkpoint still loads (nothing wrote over it)."
    from clhoi.predict import load_student
    return load_student(path) is not None


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    "A 6-image World test split and an untrained World student saved as a checkpoint."
    tmp = tmp_path_factory.mktemp('predict')
    world = tmp / 'world'
    r = clhoi('world', '--out', world, '--n-train', 12, '--n-test', 6, '--n-pretrain', 0, '--quiet')
    assert r.returncode == 0, r.stderr
    from clhoi.core import seeded
    from clhoi.model import Student
    from clhoi.predict import save_student
    with seeded(0): save_student(Student(), tmp / 'student.safetensors')
    return tmp, world


def test_predict_then_evaluate(setup):
    tmp, world = setup
    junk = tmp / 'notes.txt'; junk.write_text('not an image')
    out, draw = tmp / 'preds.json', tmp / 'drawings'
    r = clhoi('predict', '--checkpoint', tmp / 'student.safetensors', '--images', world / 'images' / 'test', junk,
              '--out', out, '--draw', draw, '--quiet')
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [f"clhoi predict: skipped {junk}: not a readable image "
                                              "(UnidentifiedImageError)"]
    assert '6 images (1 files skipped)' in r.stdout
    preds = json.loads(out.read_text())
    assert sorted(p['file_name'] for p in preds) == sorted(f.name for f in (world / 'images' / 'test').iterdir())
    # every triplet: a person as subject, a (verb, object) that is one of the World's HOI classes, a score in (0, 1]
    from clhoi.labels import coco_objects
    from clhoi.world import world_label_space
    hois, C = set(world_label_space().hois), coco_objects()
    n = 0
    for p in preds:
        cats = [C.coco91_to_coco80(b['category_id']) for b in p['predictions']]
        for h in p['hoi_prediction']:
            assert cats[h['subject_id']] == 0
            assert (h['category_id'] - 1, cats[h['object_id']]) in hois
            assert 0 < h['score'] <= 1
            n += 1
    assert 0 < n <= 100 * len(preds)
    r = clhoi('evaluate', '--dataset', 'world', '--gt', world / 'test_world.json', '--pred', out, '--json')
    assert r.returncode == 0, r.stderr                      # the file is one `clhoi evaluate` scores
    pngs = sorted(draw.glob('*.png'))
    assert [p.name for p in pngs] == sorted(f"{p['file_name']}.png" for p in preds)
    assert min(Image.open(pngs[0]).size) >= 448


def test_predict_user_errors(setup):
    tmp, world = setup
    ck = tmp / 'student.safetensors'
    empty = tmp / 'empty'; empty.mkdir()
    one_line_error(clhoi('predict', '--checkpoint', ck, '--images', empty), 'no readable image')
    one_line_error(clhoi('predict', '--checkpoint', tmp / 'none.safetensors', '--images', world / 'images' / 'test'),
                   'no such student checkpoint')
    image = next((world / 'images' / 'test').iterdir()); before = image.read_bytes()
    one_line_error(clhoi('predict', '--checkpoint', ck, '--images', image, '--out', image), 'is one of the input')
    one_line_error(clhoi('predict', '--checkpoint', ck, '--images', image, '--out', ck), 'is one of the input')
    one_line_error(clhoi('predict', '--checkpoint', ck, '--images', image, '--out', tmp / 'q.json',
                         '--draw', image.parent), 'holds input files')
    assert image.read_bytes() == before and not (tmp / 'q.json').exists()
    assert load_student_ok(ck)
    other = tmp / 'elsewhere'; other.mkdir(); Image.new('RGB', (32, 32)).save(other / 'x.png')
    one_line_error(clhoi('predict', '--checkpoint', ck, '--images', other, '--out', tmp / 'p.json'),
                   'only HOI World images')
    assert not (tmp / 'p.json').exists()
