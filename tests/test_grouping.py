"""The grouping rules a user can rely on, on made-up descriptors (unit
vectors, cosine distance, SFace's rule): fast, no model."""

from __future__ import annotations

import numpy as np

from faces.library import grouping
from faces.library.grouping import Grouping

GOOD, POOR = 1.0, 0.0


def identity(seed: int) -> np.ndarray:
    vector = np.random.default_rng(1000 + seed).normal(size=128).astype(np.float32)
    return vector / np.linalg.norm(vector)  # two identities: about 1.0 apart


def near(base: np.ndarray, seed: int, distance: float = 0.2) -> np.ndarray:
    """A unit vector about ``distance`` (cosine) from ``base``."""
    step = np.random.default_rng(seed).normal(size=base.shape).astype(np.float32)
    step -= (step @ base) * base
    step /= np.linalg.norm(step)
    angle = np.arccos(1 - distance)
    return (np.cos(angle) * base + np.sin(angle) * step).astype(np.float32)


def face(face_id: int, vector: np.ndarray, quality: float = GOOD) -> tuple:
    return (face_id, vector, quality)


def test_two_faces_of_one_photo_are_never_one_person() -> None:
    g = Grouping()
    alice = identity(1)
    g.add_photo("a", [face(1, near(alice, 1))])
    changes = g.add_photo("b", [face(2, near(alice, 2))])
    assert len(changes.created) == 1 and g.person_of(1) == g.person_of(2)
    # a photo with two faces both close to alice: only the first (largest) joins her
    g.add_photo("c", [face(3, near(alice, 3, 0.1)), face(4, near(alice, 4, 0.1))])
    assert g.person_of(3) == g.person_of(1) and g.person_of(4) != g.person_of(1)


def test_a_lone_face_waits_until_a_second_photo_makes_a_person() -> None:
    g = Grouping()
    bob = identity(2)
    assert not g.add_photo("a", [face(1, near(bob, 1))]).created
    assert g.person_of(1) is None
    assert g.add_photo("b", [face(2, identity(3))]).created == []  # someone else
    changes = g.add_photo("c", [face(3, near(bob, 3))])
    assert changes.created and g.person_of(1) == g.person_of(3) is not None


def test_a_face_joins_a_person_as_a_whole_never_through_one_look_alike() -> None:
    """A stranger who looks like one photo of Carol (within ``join`` of it,
    as single-link grouping would take), and strangers who look like him:
    none of them joins Carol, who is far from them as a whole."""
    g = Grouping()
    carol = identity(4)
    photos = [near(carol, n, 0.15) for n in range(4)]
    for n, vector in enumerate(photos):
        g.add_photo(f"c{n}", [face(n, vector)])
    person = g.person_of(0)
    look_alike = near(photos[0], 50, g.rule.join * 0.95)
    assert 1 - look_alike @ photos[0] <= g.rule.join  # a neighbour of one of her faces
    g.add_photo("x0", [face(10, look_alike)])
    for n in range(1, 4):  # his look-alikes
        g.add_photo(f"x{n}", [face(10 + n, near(look_alike, 50 + n, 0.15))])
    assert all(g.person_of(n) != person for n in range(10, 14))
    assert all(g.person_of(n) == person for n in range(4))


def test_faces_the_recognizer_cannot_vouch_for_never_make_or_join_a_person() -> None:
    g = Grouping()
    dave = identity(6)
    g.add_photo("d0", [face(0, near(dave, 0), POOR)])
    g.add_photo("d1", [face(1, near(dave, 1), POOR)])
    assert g.person_of(0) is None and g.person_of(1) is None  # no person from poor faces
    g.add_photo("d2", [face(2, near(dave, 2))])
    g.add_photo("d3", [face(3, near(dave, 3))])
    person = g.person_of(2)
    assert person and g.person_of(3) == person
    g.add_photo("d4", [face(4, near(dave, 4, 0.05), POOR)])
    assert g.person_of(4) is None  # not even close to a person: it waits for the user
    g.move(4, person)  # the user can still put it there
    assert g.person_of(4) == person


def test_quality_from_the_descriptors_length_and_the_pose() -> None:
    frontal = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)
    profile = frontal.copy()
    profile[2, 0] = 82  # the nose far past one eye
    low, high = grouping.NORMS["sface"]
    scores = grouping.quality("sface", [high + 1, (low + high) / 2, low - 1, high + 1],
                              np.array([frontal, frontal, frontal, profile]))
    assert list(np.round(scores, 2)) == [1.0, 0.5, 0.0, 0.0]


def test_the_users_decisions_stand() -> None:
    g = Grouping()
    erin, frank = identity(7), identity(8)
    for n in range(3):
        g.add_photo(f"e{n}", [face(n, near(erin, n))])
    person = g.person_of(0)
    g.move(2, None)  # "this is nobody": pinned there
    for n in range(3, 6):  # more photos of Erin arrive
        g.add_photo(f"e{n}", [face(n, near(erin, n))])
    assert g.person_of(2) is None and g.person_of(5) == person
    new, _ = g.create(1)  # split one face into a person of its own
    g.add_photo("e9", [face(9, near(erin, 9))])
    assert g.person_of(1) == new and g.person_of(9) == person
    g.add_photo("f0", [face(20, near(frank, 0))])
    g.add_photo("f1", [face(21, near(frank, 1))])
    merged = g.merge(person, [g.person_of(20)])
    assert g.person_of(20) == person and merged.emptied


def test_not_this_person_never_goes_back() -> None:
    g = Grouping()
    gina = identity(9)
    for n in range(3):
        g.add_photo(f"g{n}", [face(n, near(gina, n))])
    person = g.person_of(0)
    left, changes = g.not_this_person(2)
    assert left == person and changes.faces == {2: None}
    g.add_photo("g3", [face(3, near(gina, 3))])  # Gina grows; face 2 is not gathered
    assert g.person_of(3) == person and g.person_of(2) is None
    # merged into another person, the "no" goes with her
    g.add_photo("h0", [face(10, near(gina, 10))])
    other, _ = g.split([10])
    g.merge(other, [person])
    g.named_now(other)
    assert g.person_of(2) is None


def test_split_takes_several_faces_into_one_new_person() -> None:
    g = Grouping()
    hugo = identity(10)
    for n in range(4):
        g.add_photo(f"h{n}", [face(n, near(hugo, n))])
    person = g.person_of(0)
    new, changes = g.split([2, 3])
    assert changes.created == [new] and g.person_of(2) == g.person_of(3) == new
    assert g.person_of(0) == person


def test_same_person_is_asked_nearest_first_and_no_is_remembered() -> None:
    g = Grouping()
    ivan, jane = identity(11), identity(12)
    for n in range(2):  # ivan's faces in two people (as if split by the user)
        g.add_photo(f"i{n}", [face(n, near(ivan, n, 0.1))])
    first = g.person_of(0)
    other, _ = g.split([1])
    g.add_photo("i2", [face(2, near(ivan, 2, 0.1))])
    g.add_photo("j0", [face(10, near(jane, 0, 0.1))])
    g.add_photo("j1", [face(11, near(jane, 1, 0.1))])
    pairs = g.suggestions()
    assert [set(p[:2]) for p in pairs] == [{first, other}]  # jane is not offered with ivan
    g.set_different(first, other)
    assert g.suggestions() == []


def test_naming_gathers_the_faces_that_match() -> None:
    g = Grouping(core=0.05)  # cores need near-identical faces here
    kim = identity(13)
    g.add_photo("k0", [face(0, near(kim, 0, 0.02))])
    g.add_photo("k1", [face(1, near(kim, 1, 0.02))])
    person = g.person_of(0)
    g.insert(7, "k7", near(kim, 7, 0.3))  # stored before the person existed: waiting
    assert g.person_of(7) is None
    assert g.named_now(person).faces == {7: person}


def test_deleting_the_last_face_empties_the_person() -> None:
    g = Grouping()
    leo = identity(14)
    g.add_photo("l0", [face(0, near(leo, 0))])
    g.add_photo("l1", [face(1, near(leo, 1))])
    person = g.person_of(0)
    assert g.remove([0]).emptied == []
    assert g.remove([1]).emptied == [person]


def test_arcface_descriptors_have_their_own_rule() -> None:
    g = Grouping("arcface")
    assert g.dimensions == 512 and g.rule == grouping.RULES["arcface"]
    base = np.random.default_rng(512).normal(size=512).astype(np.float32)
    base /= np.linalg.norm(base)  # (a seed of its own: near()'s steps use 0 and 1)
    g.add_photo("m0", [face(0, near(base, 0, 0.2))])
    g.add_photo("m1", [face(1, near(base, 1, 0.2))])
    assert g.person_of(0) == g.person_of(1) is not None


def test_the_waiting_faces_are_always_the_free_good_unplaced_ones() -> None:
    """The pool a new face's core is looked for in stays true through every
    kind of change (grouping, the user's edits, deletions)."""
    rng = np.random.default_rng(7)
    g = Grouping()
    people = [identity(20 + n) for n in range(5)]
    face_id = 0
    for step in range(120):
        who = people[int(rng.integers(5))]
        quality = GOOD if rng.random() > 0.2 else POOR
        g.add_photo(f"p{step}", [face(face_id, near(who, face_id, 0.2), quality)])
        face_id += 1
        if step % 7 == 3:
            g.remove([int(rng.integers(face_id))])
        if step % 11 == 5 and g.row_of:
            victim = int(rng.choice(list(g.row_of)))
            if g.person_of(victim):
                g.not_this_person(victim)
            else:
                g.move(victim, None)
        size = g.size
        expected = {row for row in range(size) if g.persons[row] == grouping.NOBODY
                    and not g.pinned[row] and g.good[row]}
        assert set(g.pool.where) == expected
        for row, position in g.pool.where.items():
            assert g.pool.rows[position] == row
            assert np.array_equal(g.pool.vectors[position], g.vectors[row])


def test_loading_every_face_at_once_is_inserting_them_one_by_one() -> None:
    rng = np.random.default_rng(3)
    faces = []
    for n in range(200):
        person = None if n % 3 == 0 else f"{n % 7:012x}"
        faces.append((n, f"p{n // 2}", near(identity(n % 7), n, 0.2), person, n % 11 == 0,
                      float(rng.random())))
    one, whole = Grouping(), Grouping()
    for face_id, photo, vector, person, pinned, quality in faces:
        one.insert(face_id, photo, vector, person, pinned, quality)
    stray = (10_000, "p0", np.zeros(64, np.float32).tobytes(), None, False, 1.0)  # another model
    rows = [(f[0], f[1], np.asarray(f[2], np.float32).tobytes(), *f[3:]) for f in faces]
    whole.load([*rows[:50], stray, *rows[50:]], 10, chunk=16)  # more than said: it grows
    size = one.size
    for name in ("vectors", "face_ids", "photos", "persons", "pinned", "good"):
        assert np.array_equal(getattr(one, name)[:size], getattr(whole, name)[:size]), name
    people = len(one.person_ids)
    assert one.person_ids == whole.person_ids and one.row_of == whole.row_of
    for name in ("counts", "members"):
        assert np.array_equal(getattr(one, name)[:people], getattr(whole, name)[:people]), name
    assert np.allclose(one.prototypes[:people], whole.prototypes[:people], atol=1e-5)
    assert set(one.pool.where) == set(whole.pool.where)
    for row, position in whole.pool.where.items():
        assert np.array_equal(whole.pool.vectors[position], whole.vectors[row])
    assert whole.size == size and 10_000 not in whole.row_of


def state(g: Grouping) -> dict:
    """What a grouping knows, independent of row order."""
    people = {pid: key for pid, key in g.person_keys.items() if g.members[key]}
    return {
        "faces": {int(g.face_ids[r]): (g.person_of(int(g.face_ids[r])), bool(g.pinned[r]),
                                       g.photo_of(int(g.face_ids[r])), bool(g.good[r]),
                                       g.vectors[r].tobytes()) for r in range(g.size)},
        "members": {pid: int(g.members[key]) for pid, key in people.items()},
        "counts": {pid: int(g.counts[key]) for pid, key in people.items()},
        "prototypes": {pid: np.round(g.prototypes[key], 4).tobytes()
                       for pid, key in people.items()},
        "pool": {int(g.face_ids[r]) for r in g.pool.where},
        "named": set(g.named),
        "rejected": {f: {g.person_ids[k] for k in keys} for f, keys in g.rejected.items()
                     if keys},
        "different": set(g.different),
    }


def test_an_edit_that_is_rolled_back_leaves_no_trace() -> None:
    """Every kind of change, undone: the grouping is what it was (what the
    catalogue still holds when writing an edit failed)."""
    g = Grouping()
    for n in range(24):
        g.add_photo(f"p{n}", [face(n, near(identity(n % 4), n, 0.15)),
                              face(100 + n, near(identity(9), 100 + n, 0.6), POOR)])
    people = sorted({g.person_of(n) for n in range(24)} - {None})
    assert len(people) == 4
    g.set_named(people[0], True)
    g.not_this_person(1)
    before = state(g)
    edits = [
        lambda: g.add_photo("new", [face(500, near(identity(1), 500, 0.1)),
                                    face(501, near(identity(7), 501))]),
        lambda: g.remove([2, 3, 100]),
        lambda: g.named_now(people[1]),
        lambda: g.move(5, people[2]),
        lambda: g.move(6, None),
        lambda: g.not_this_person(7),
        lambda: g.split([8, 12]),
        lambda: g.merge(people[3], [people[0], people[1]]),
        lambda: g.set_different(people[2], people[3]),
        lambda: g.insert(600, "p3", near(identity(2), 600), people[2], True, GOOD),
    ]
    for count in range(1, len(edits) + 1):  # each, and every run of them together
        g.begin()
        for edit in edits[:count]:
            edit()
        assert state(g) != before
        g.rollback()
        assert state(g) == before, count
    g.begin()
    g.move(5, people[2])
    g.commit()
    assert g.person_of(5) == people[2] and g._journal is None


def test_gathering_in_bulk_is_gathering_one_face_at_a_time() -> None:
    """Naming a person gathers the waiting faces near them: compared with
    the person's faces as one matrix product and then against those joined
    since, in blocks, it takes the very faces that checking each one in
    turn against the person as they are at that moment takes (here over
    hundreds of candidates, more than one block of them)."""
    import copy

    from faces.library import grouping as rules

    rng = np.random.default_rng(7)
    g = Grouping()
    centre = identity(21)
    pid = "p" * 12
    key = g._person_key(pid)
    for n in range(60):  # the person: placed by the user
        g.insert(n, f"m{n}", near(centre, 100 + n, 0.25), pid, pinned=True)
    for n in range(700):  # waiting faces: some of them, some near them, some strangers
        spread = rng.choice([0.2, 0.35, 0.5, 0.9])
        g.insert(1000 + n, f"w{n % 650}", near(centre, 5000 + n, float(spread)))
        g.pool.add(g.row_of[1000 + n], g.vectors[g.row_of[1000 + n]])
    g.reject(1003, pid)
    reference = copy.deepcopy(g)

    def one_at_a_time(g: Grouping) -> dict:
        changes = rules.Changes()
        free, gaps = g.pool.search(g.prototypes[key])
        near_ = gaps <= g.rule.join
        free, gaps = free[near_].copy(), gaps[near_]
        photos = g._photos_of(key)
        for index in np.argsort(gaps):
            row = int(free[index])
            face_id = int(g.face_ids[row])
            if int(g.photos[row]) in photos or g._is_rejected(face_id, key):
                continue
            vector = g.vectors[row]
            if 1.0 - float(vector @ g.prototypes[key]) > g.rule.join or \
                    not g._supported(vector, key):
                continue
            g._set(row, key, changes)
            photos.add(int(g.photos[row]))
        return changes.faces

    saved = rules.JOINED_BLOCK
    rules.JOINED_BLOCK = 16  # (blocks small enough that many are folded in)
    try:
        bulk = g.named_now(pid).faces
    finally:
        rules.JOINED_BLOCK = saved
    expected = one_at_a_time(reference)
    assert len(expected) > 2 * 16 and bulk == expected, (len(expected), len(bulk))
