"""The load allocator answers on 80 random sites exactly as recorded (tests/priority/data/allocator_golden.json.gz,
made by make_allocator_golden.py): a change to its mechanics must not change an answer. Each site is checked
rounded, as the caller gets it, and unrounded."""

import gzip
import json

import pytest

from priority.allocator import allocate
from tests.priority import make_allocator_golden

TOLERANCE = 1e-6  # amps

with gzip.open(make_allocator_golden.GOLDEN, "rt") as file:
    GOLDEN = json.load(file)


def test_the_golden_file_covers_every_seed_in_both_windows():
    assert sorted((entry["seed"], entry["expensive"]) for entry in GOLDEN) == [
        (seed, expensive) for seed in make_allocator_golden.SEEDS for expensive in (False, True)
    ]


@pytest.mark.parametrize(
    "entry", GOLDEN, ids=[f"seed{entry['seed']}-{'expensive' if entry['expensive'] else 'normal'}" for entry in GOLDEN]
)
def test_the_allocator_answers_as_recorded(entry):
    case = make_allocator_golden.build_case(entry["seed"], entry["expensive"])
    assert make_allocator_golden.fingerprint(case) == entry["fingerprint"], "the site builder changed: regenerate"
    answers = make_allocator_golden.answers(allocate, case)
    for kind in ("rounded", "exact"):
        recorded, answered = entry[kind], answers[kind]
        assert answered.keys() == recorded.keys()
        wrong = {key: (answered[key], amps) for key, amps in recorded.items() if abs(answered[key] - amps) > TOLERANCE}
        some = dict(list(wrong.items())[:5])
        assert not wrong, f"{kind}: {len(wrong)} connectors differ, (answered, recorded): {some}"
