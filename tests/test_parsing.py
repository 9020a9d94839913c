"Parsing the teacher's answers (A.1) and the negative verbs (A.2) on realistic outputs, from outside the notebook."
import random, string, subprocess, sys

import pytest
from lemminflect import getLemma

from clhoi.labels import coco_objects, hico_det, v_coco
from clhoi.parsing import (OBJECT_SYNONYMS, has_action_verb, negative_verbs, parse_pairs, sample_negatives,
                           to_label_verb)

CASES = [  # (raw answer, expected pairs): hand-written, in the shapes InstructBLIP/Vicuna answers take
    ("*Swing, Baseball Bat.\n*Catch, Baseball.", [('swing', 'baseball bat'), ('catch', 'sports ball')]),  # the paper's
    ("* Swing, Baseball Bat.* Catch, Baseball.", [('swing', 'baseball bat'), ('catch', 'sports ball')]),
    ("1. Riding, horse\n2. Holding, umbrella", [('ride', 'horse'), ('hold', 'umbrella')]),
    ("1) eat, pizza\n2) drink, wine glasses", [('eat', 'pizza'), ('drink', 'wine glass')]),
    ("<ride, horse>, <hold, kite>", [('ride', 'horse'), ('hold', 'kite')]),
    ("- (hold, kite)\n- [fly, kite]", [('hold', 'kite'), ('fly', 'kite')]),
    ("<person, ride, horse>", [('ride', 'horse')]),
    ("(man, riding, bike)\n(woman, walking, dog)", [('ride', 'bicycle'), ('walk', 'dog')]),
    ("riding a horse and holding a kite", [('ride', 'horse'), ('hold', 'kite')]),
    ("The man is sitting on a bench.", [('sit_on', 'bench')]),
    ("• Sitting on, a bench", [('sit_on', 'bench')]),
    ("- picks up, the remote control", [('pick_up', 'remote')]),
    ("Flew, Kites.", [('fly', 'kite')]),
    ("swinging, bat\nswings, baseball bat\nswing, the bat", [('swing', 'baseball bat')]),
    ("\"Ride\", \"Motorbike\"", [('ride', 'motorcycle')]),
    ("Sure! Here are the interactions:\n* kicking - soccer ball\n* wearing: a glove", [('kick', 'sports ball'), ('wear', 'baseball glove')]),
    ("Here are the human-object interactions in the sentence: <talk on, phone>", [('talk_on', 'cell phone')]),
    ("Interaction: rides, Object: motorbike", [('ride', 'motorcycle')]),
    ("hold, knife and fork", [('hold', 'knife'), ('hold', 'fork')]),
    ("The persons in the first example are flying kites in a grassy field.", [('fly', 'kite')]),
    ("The man is laying on the bed while reading a book", [('lay_on', 'bed'), ('read', 'book')]),
    ("no interaction, sofa", [('no_interaction', 'couch')]),
    ("There are no human-object interactions in the sentence.", []),
    ("I'm sorry, but I cannot determine any interactions from this sentence.", []),
    ("Sure, here are the interactions.", []),
    ("None", []), ("N/A", []), ("", []), ("   \n\n ", []), ("*\n*\n1.", []), ("<>, (), []", []),
]

@pytest.mark.parametrize('raw,expected', CASES)
def test_parse_pairs(raw, expected): assert parse_pairs(raw) == expected

def test_non_strings_give_nothing():
    for x in (None, 3, b'ride, horse', ['ride, horse']): assert parse_pairs(x) == []

def test_restricting_objects_to_the_label_space():
    raw = "<ride, horse>\n<walk, grass>\n<hold, umbrellas>"
    assert parse_pairs(raw) == [('ride', 'horse'), ('walk', 'grass'), ('hold', 'umbrella')]
    assert parse_pairs(raw, hico_det(), keep_unknown_objects=False) == [('ride', 'horse'), ('hold', 'umbrella')]

def test_fuzz_never_raises():
    rng = random.Random(1)
    pieces = ['ride', ',', ' and ', '<', '>', '(', ')', '*', '1.', '\n', ' a ', 'horse', ':', '-', ' is ', 'ing', '•', '"',
              'interaction', ' no ', '.', ';', '漢', '\t', '[', ']', 'man', ' on ', '  ']
    for _ in range(3000):
        s = ''.join(rng.choice(pieces) if rng.random() < .6 else rng.choice(string.printable) for _ in range(rng.randrange(60)))
        out = parse_pairs(s)
        assert isinstance(out, list) and len(out) == len(set(out))
        assert all(isinstance(v, str) and v and isinstance(o, str) and o for v, o in out), (s, out)
    assert parse_pairs('ride, horse\n' * 50_000)[:1] == [('ride', 'horse')]     # long input: no exception, no blow-up

def test_synonyms_name_coco_objects():
    assert set(OBJECT_SYNONYMS.values()) <= set(coco_objects().names)
    assert not set(OBJECT_SYNONYMS) & set(coco_objects().names)     # a COCO name is never renamed

def test_to_label_verb():
    assert [to_label_verb(v, hico_det()) for v in ('sit on', 'sit_on', 'drink_with', 'ride', 'juggle')] == \
           ['sit_on', 'sit_on', 'drink_with', 'ride', None]
    assert [to_label_verb(v, v_coco()) for v in ('sit_on', 'talk_on', 'work_on', 'look_at', 'juggle')] == \
           ['sit', 'talk_on_phone', 'work_on_computer', 'look', None]

@pytest.mark.parametrize('caption,expected', [
    ("The persons in the image are playing frisbee in a park.", True),
    ("A man is riding a horse on the beach.", True),
    ("Two women sit on a bench and talk.", True),
    ("The boy swung the bat at the ball.", True),
    ("People are standing around a table with food on it.", True),
    ("There are two people in the image.", False),
    ("The image shows a living room with a ceiling fan.", False),
    ("A man in a red shirt with a dog.", False),
    ("They seem to be happy.", False),
    ("", False),
])
def test_has_action_verb(caption, expected): assert has_action_verb(caption) == expected

def test_negative_dictionary_shares_nothing_with_hico_or_vcoco():
    nv = negative_verbs()
    assert len(nv) >= 300 and len(set(nv)) == len(nv)
    gt = set()
    for v in hico_det().verbs + v_coco().actions:          # independent of the notebook's helper
        if v == 'no_interaction': continue
        for w in {v, v.split('_')[0]}: gt |= {w, *getLemma(w, upos='VERB')}
    assert {'sit', 'lie', 'talk', 'work', 'stand', 'ride'} <= gt
    bad = [v for v in nv if v in gt or set(getLemma(v, upos='VERB')) & gt]
    assert bad == [], f'negative verbs that are HICO-DET/V-COCO verbs: {bad}'
    assert all(v.isalpha() and v == v.lower() for v in nv)

def test_sample_negatives():
    nv = set(negative_verbs())
    for i in range(200):
        pos = ['whisper', 'knitting', 'juggled', 'ride']
        neg = sample_negatives(pos, k=2, seed=(7, f'img{i}.jpg'))
        assert len(neg) == 2 and len(set(neg)) == 2 and set(neg) <= nv and not set(neg) & {'whisper', 'knit', 'juggle'}
    assert sample_negatives([], seed=(7, 'a.jpg')) == sample_negatives([], seed=(7, 'a.jpg'))
    assert sample_negatives([], k=5, vocabulary=['sew', 'knit']) in (['sew', 'knit'], ['knit', 'sew'])

def test_sample_negatives_same_in_another_process():
    "crc32, not hash(): a fresh interpreter with another PYTHONHASHSEED draws the same negatives for a file name."
    code = "from clhoi.parsing import sample_negatives; print(sample_negatives(['ride'], seed=(3, 'HICO_train2015_00000042.jpg')))"
    outs = {subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={'PYTHONHASHSEED': h, 'PATH': ''},
                           timeout=120).stdout for h in ('1', '2')}
    assert len(outs) == 1 and outs.pop().strip() == str(sample_negatives(['ride'], seed=(3, 'HICO_train2015_00000042.jpg')))
