"""The synthetic PAWS-X/XNLI corpora: hand-checked English rows, labels recoverable from roles,
surface patterns independent of the label, parallelism, lexicon sharing, word order, errors."""

from collections import Counter

import pytest

from dlfa.synthetic import (
    ADJECTIVES, ADVERBS, AGENT_MARKER, AUX, DETERMINERS, ENGLISH, NOUNS, ORDERS, VERBS, WORDS,
    LanguageProfile, lexicon, nli_pairs, nli_rows, pawsx_pairs, pawsx_rows,
)

PAST = {past: lemma for lemma, (past, _) in VERBS.items()}
PARTICIPLE = {part: lemma for lemma, (_, part) in VERBS.items()}
FOREIGN_SOV = LanguageProfile("xx", order="SOV", shared_fraction=0.0)


def parse(sentence: str):
    """An English sentence -> (agent NP, verb lemma, patient NP, adverb), read off the grammar."""
    toks = sentence.split()
    assert toks[-1] == "."
    toks, adverb = toks[:-1], None
    if toks[0] in ADVERBS:
        adverb = toks.pop(0)
    elif toks[-1] in ADVERBS:
        adverb = toks.pop()

    def np(t):
        assert t[0] in DETERMINERS and t[-1] in NOUNS and len(t) in (2, 3)
        return (t[0], t[1] if len(t) == 3 else None, t[-1])

    if AUX in toks:
        i = toks.index(AUX)
        assert toks[i + 2] == AGENT_MARKER
        return np(toks[i + 3:]), PARTICIPLE[toks[i + 1]], np(toks[:i]), adverb
    j = next(k for k, t in enumerate(toks) if t in PAST)
    return np(toks[:j]), PAST[toks[j]], np(toks[j + 1:]), adverb


def _mods(prop):
    agent, _, patient, adverb = prop
    return {m for m in (("agent", agent[1]), ("patient", patient[1]), ("adverb", adverb)) if m[1]}


def test_vocabulary():
    classes = [set(NOUNS), set(ADJECTIVES), set(PAST) | set(PARTICIPLE), set(ADVERBS),
               set(DETERMINERS), {AUX, AGENT_MARKER}]
    assert sum(map(len, classes)) == len(set().union(*classes)) == len(WORDS)  # disjoint
    assert (len(NOUNS), len(ADJECTIVES), len(VERBS)) == (40, 25, 25)
    assert all(w[0] not in "aeiou" for w in NOUNS + ADJECTIVES)  # "a" never needs "an"


def test_english_pawsx_by_hand():
    r = pawsx_rows(ENGLISH, 4, seed=0, split="train")
    assert r["id"] == [0, 1, 2, 3]
    rows = list(zip(r["sentence1"], r["sentence2"], r["label"]))
    assert rows == [
        # swap, active/active (adverb moved): same words, other meaning
        ("yesterday a happy duck called a hunter .", "a hunter called a happy duck yesterday .", 0),
        # swap with a voice change
        ("again the sheep beat a kind snake .", "a snake was beaten by the kind sheep again .", 0),
        # paraphrase, passive/passive: only the adverb moved
        ("the rabbit was met by the small hunter again .",
         "again the rabbit was met by the small hunter .", 1),
        # paraphrase by voice change
        ("a brave doctor was found by the rich dog .", "the rich dog found a brave doctor .", 1),
    ]
    r = pawsx_rows(ENGLISH, 104, seed=0, split="train")
    assert (r["sentence1"][103], r["sentence2"][103], r["label"][103]) == (
        "today the happy singer found a rabbit .",
        "the singer found a happy rabbit today .", 0)  # adjective moved to the other noun


def test_english_nli_by_hand():
    r = nli_rows(ENGLISH, 30, seed=0, split="train")
    rows = list(zip(r["premise"], r["hypothesis"], r["label"]))
    assert rows[0] == ("today the king chose the tiger .",
                       "the tiger was chosen by the king today .", 0)  # voice change
    assert rows[1] == ("a snake blamed the quick cow recently .",
                       "a snake blamed the cow recently .", 0)  # adjective dropped
    assert rows[4] == ("a student was found by a happy cat recently .",
                       "a happy cat was found by a student recently .", 2)  # roles swapped
    assert rows[26] == ("again a horse was found by the quick monkey .",
                        "a calm horse was found by the quick monkey again .", 1)  # adjective added
    assert rows[23] == ("the crow heard the big teacher .",
                        "yesterday the big teacher was heard by the crow .", 1)  # adverb added


def test_pawsx_label_is_the_role_rule():
    """Paraphrase iff both sentences assign the same roles (with their modifiers)."""
    r = pawsx_rows(ENGLISH, 3000, seed=3, split="validation")
    assert r["label"] == [int(parse(a) == parse(b)) for a, b in zip(r["sentence1"], r["sentence2"])]
    pairs = pawsx_pairs(3000, 3, "validation")
    assert all(parse(s) == tuple(p[0]) for s, (_, p, _) in zip(r["sentence1"], pairs))


def test_nli_label_is_the_rule():
    r = nli_rows(ENGLISH, 3000, seed=3, split="validation")
    for prem, hyp, label in zip(r["premise"], r["hypothesis"], r["label"]):
        p, h = parse(prem), parse(hyp)
        assert p[1] == h[1]  # same verb
        if (h[0][2], h[2][2]) == (p[2][2], p[0][2]):
            assert label == 2
        else:
            assert (h[0][2], h[2][2]) == (p[0][2], p[2][2])
            assert label == (0 if _mods(h) <= _mods(p) else 1)
        assert prem != hyp


def _voices(a, b):
    return (AUX in a.split(), AUX in b.split())


def test_surface_does_not_give_the_pawsx_label():
    r = pawsx_rows(ENGLISH, 4000, seed=1, split="train")
    by_pattern = {}
    for a, b, label in zip(r["sentence1"], r["sentence2"], r["label"]):
        by_pattern.setdefault(_voices(a, b), []).append(label)
        ca, cb = Counter(a.split()), Counter(b.split())
        if _voices(a, b)[0] == _voices(a, b)[1]:
            assert ca == cb  # same voice: same words, whatever the label
        else:  # other voice: the passive adds was + by and (maybe) swaps past for participle
            passive, active = (ca, cb) if _voices(a, b)[0] else (cb, ca)
            extra, missing = passive - active, active - passive
            assert extra.keys() - set(PARTICIPLE) == {AUX, AGENT_MARKER}
            assert set(missing) <= set(PAST) and len(missing) == len(extra) - 2
    assert len(by_pattern) == 4
    for labels in by_pattern.values():
        assert 0.35 < sum(labels) / len(labels) < 0.55


def test_determinism_and_prefix():
    for fn in (pawsx_rows, nli_rows):
        a, b = fn(FOREIGN_SOV, 300, 7, "test"), fn(FOREIGN_SOV, 300, 7, "test")
        assert a == b
        short = fn(FOREIGN_SOV, 100, 7, "test")
        assert all(short[k] == a[k][:100] for k in a)


def test_parallel_across_languages():
    inverse = {v: k for k, v in lexicon(FOREIGN_SOV).items()}
    tasks = ((pawsx_rows, ("sentence1", "sentence2")), (nli_rows, ("premise", "hypothesis")))
    for fn, cols in tasks:
        en, xx = fn(ENGLISH, 500, 2, "train"), fn(FOREIGN_SOV, 500, 2, "train")
        assert en["id"] == xx["id"] == list(range(500))
        assert en["label"] == xx["label"]
        for c in cols:
            for e, x in zip(en[c], xx[c]):
                assert e != x
                assert Counter(e.split()) == Counter(inverse.get(t, t) for t in x.split())


def test_splits_and_seeds_differ():
    for fn, col in ((pawsx_rows, "sentence1"), (nli_rows, "premise")):
        streams = [fn(ENGLISH, 200, s, split)[col] for s, split in
                   ((0, "train"), (0, "validation"), (0, "test"), (1, "train"))]
        for i in range(len(streams)):
            for j in range(i):
                assert sum(a == b for a, b in zip(streams[i], streams[j])) < 5


def test_label_balance():
    pawsx = Counter(pawsx_rows(ENGLISH, 4000, 0, "train")["label"])
    assert set(pawsx) == {0, 1} and abs(pawsx[0] / 4000 - 0.55) < 0.03
    nli = Counter(nli_rows(ENGLISH, 4000, 0, "train")["label"])
    assert set(nli) == {0, 1, 2} and all(abs(nli[k] / 4000 - 1 / 3) < 0.03 for k in nli)


def test_fully_shared_svo_is_english():
    de = LanguageProfile("de", shared_fraction=1.0)
    assert lexicon(de) == {w: w for w in WORDS}
    assert pawsx_rows(de, 200, 0, "test") == pawsx_rows(ENGLISH, 200, 0, "test")
    assert nli_rows(de, 200, 0, "test") == nli_rows(ENGLISH, 200, 0, "test")


def test_unshared_lexicon():
    lex = lexicon(FOREIGN_SOV)
    assert set(lex) == set(WORDS)
    assert len(set(lex.values())) == len(lex)  # no two English words share a foreign word
    assert all(v.isascii() and v.isalpha() and v.islower() and v not in WORDS for v in lex.values())
    r = pawsx_rows(FOREIGN_SOV, 500, 0, "train")
    tokens = {t for s in r["sentence1"] + r["sentence2"] for t in s.split()}
    assert not tokens & set(WORDS)
    # Other languages get other pseudo-words; another seed is another language.
    fr = set(lexicon(LanguageProfile("fr", shared_fraction=0.0)).values())
    assert len(fr & set(lex.values())) < 5
    assert len(set(lexicon(FOREIGN_SOV, seed=1).values()) & set(lex.values())) < 5


def test_sharing_is_nested():
    for code in ("de", "ja", "zh"):
        lexes = {f: lexicon(LanguageProfile(code, shared_fraction=f)) for f in (0.0, 0.2, 0.5, 0.8)}
        shared = {f: {w for w, v in lex.items() if v == w} for f, lex in lexes.items()}
        assert shared[0.0] <= shared[0.2] <= shared[0.5] <= shared[0.8]
        assert abs(len(shared[0.5]) / len(WORDS) - 0.5) < 0.15
        # An unshared word has one foreign spelling, whatever the fraction.
        assert all(lexes[0.0][w] == lexes[0.8][w] for w in WORDS if w not in shared[0.8])


def _without_adverb(sentence):
    toks = sentence.split()[:-1]
    return [t for i, t in enumerate(toks) if not (t in ADVERBS and i in (0, len(toks) - 1))]


def test_word_order():
    for order in ORDERS:
        profile = LanguageProfile("en", order=order)
        r = pawsx_rows(profile, 300, 0, "train")
        for s in r["sentence1"] + r["sentence2"]:
            toks = _without_adverb(s)
            if AUX in toks:  # passive: the verb group stays together
                i = toks.index(AUX)
                assert toks[i + 1] in PARTICIPLE
                if order.endswith("V"):
                    assert i == len(toks) - 2
                if order.startswith("V"):
                    assert i == 0
            elif order.endswith("V"):
                assert toks[-1] in PAST
            elif order.startswith("V"):
                assert toks[0] in PAST
    active = [s for s in pawsx_rows(LanguageProfile("en", order="SOV"), 50, 0, "train")["sentence1"]
              if AUX not in s.split()]
    assert active and all(_without_adverb(s)[-1] in PAST for s in active)
    assert pawsx_rows(LanguageProfile("en", order="SOV"), 1, 0, "train")["sentence1"] == [
        "yesterday a happy duck a hunter called ."]


def test_adjective_after_noun():
    profile = LanguageProfile("en", adj_before_noun=False)
    r = pawsx_rows(profile, 300, 0, "train")
    n_adj = 0
    for s in r["sentence1"] + r["sentence2"]:
        toks = s.split()
        for i, t in enumerate(toks):
            if t in ADJECTIVES:
                n_adj += 1
                assert toks[i - 1] in NOUNS and toks[i - 2] in DETERMINERS
    assert n_adj > 100
    assert r["sentence1"][0] == "yesterday a duck happy called a hunter ."


def test_agent_marker_position():
    for before in (True, False):
        r = pawsx_rows(LanguageProfile("en", adposition_before_noun=before), 300, 0, "train")
        n_passive = 0
        for s in r["sentence1"] + r["sentence2"]:
            toks = s.split()
            if AGENT_MARKER in toks:
                n_passive += 1
                i = toks.index(AGENT_MARKER)
                if before:
                    assert toks[i + 1] in DETERMINERS
                else:  # the NP ends in its noun (or adjective) and "by" follows it
                    assert toks[i - 1] in NOUNS + ADJECTIVES
        assert n_passive > 100
    r = pawsx_rows(LanguageProfile("en", adposition_before_noun=False), 4, 0, "train")
    assert r["sentence1"][3] == "a brave doctor was found the rich dog by ."


@pytest.mark.parametrize("kwargs, needle", [
    (dict(order="SXV"), "'SXV'"), (dict(order="svo"), "SOV"),
    (dict(shared_fraction=1.5), "1.5"), (dict(shared_fraction=-0.1), "[0, 1]"),
    (dict(shared_fraction=float("nan")), "nan"),
])
def test_profile_errors(kwargs, needle):
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        LanguageProfile("de", **kwargs)


@pytest.mark.parametrize("fn", [pawsx_rows, nli_rows])
def test_row_errors(fn):
    for n in (0, -3, 2.5):
        with pytest.raises(ValueError, match=f"n must be an integer >= 1, got {n}"):
            fn(ENGLISH, n, 0, "train")
    with pytest.raises(ValueError, match="'dev'.*train, validation, test"):
        fn(ENGLISH, 10, 0, "dev")
