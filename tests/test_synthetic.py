"""The synthetic PAWS-X/XNLI corpora: hand-checked English rows, labels recoverable from roles,
surface patterns independent of the label, parallelism, lexicon sharing, word order, errors."""

from collections import Counter

import numpy as np
import pytest

from dlfa.config.checks import PlantedSpec
from dlfa.data.lexicon import ADJECTIVE_SYNONYMS, ADVERB_SYNONYMS, NOUN_SYNONYMS, ORDERS, WORDS, lexicon
from dlfa.data.synthetic import (ADJECTIVES, ADVERBS, AGENT_MARKER, AUX, DETERMINERS, ENGLISH, NOUNS, SYNONYMS,
                                 VERB_SYNONYMS, VERBS, LanguageProfile, nli_rows, pawsx_pairs, pawsx_rows)

# Verb forms (both spellings) -> lemma; other synonym spellings -> their usual word.
PAST = {**{past: lemma for lemma, (past, _) in VERBS.items()},
        **{past: lemma for lemma, (_, past, _) in VERB_SYNONYMS.items()}}
PARTICIPLE = {**{part: lemma for lemma, (_, part) in VERBS.items()},
              **{part: lemma for lemma, (_, _, part) in VERB_SYNONYMS.items()}}
CANON = {syn: w for w, syn in {**NOUN_SYNONYMS, **ADJECTIVE_SYNONYMS, **ADVERB_SYNONYMS}.items()}
SYNONYM_SPELLINGS = set(SYNONYMS.values())
FOREIGN_SOV = LanguageProfile("xx", order="SOV", shared_fraction=0.0)


def parse(sentence: str):
    """An English sentence -> (agent NP, verb lemma, patient NP, adverb), read off the grammar;
    words are read as their concepts (synonym spellings as the usual word)."""
    toks = [CANON.get(t, t) for t in sentence.split()]
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
    classes = [set(NOUNS) | set(NOUN_SYNONYMS.values()), set(ADJECTIVES) | set(ADJECTIVE_SYNONYMS.values()),
               set(PAST) | set(PARTICIPLE), set(ADVERBS) | set(ADVERB_SYNONYMS.values()),
               set(DETERMINERS), {AUX, AGENT_MARKER}]
    assert sum(map(len, classes)) == len(set().union(*classes)) == len(WORDS)  # disjoint
    assert (len(NOUNS), len(ADJECTIVES), len(VERBS)) == (40, 25, 25)
    nominal = [*NOUNS, *ADJECTIVES, *NOUN_SYNONYMS.values(), *ADJECTIVE_SYNONYMS.values()]
    assert all(w[0] not in "aeiou" for w in nominal)  # "a" never needs "an"


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


# --------------------------------------------------------------------------- lexical paraphrases

LEX = dict(passive_share=0.2, moved_adverbs=False)


def concept(word):
    """(category, concept) of a content word in either spelling; None for function words."""
    if word in PAST or word in PARTICIPLE:
        return "verb", PAST.get(word) or PARTICIPLE[word]
    word = CANON.get(word, word)
    for name, words in (("noun", NOUNS), ("adjective", ADJECTIVES), ("adverb", ADVERBS)):
        if word in words:
            return name, word
    return None


def test_synonym_tables():
    content = {*NOUNS, *ADJECTIVES, *ADVERBS, *(f for forms in VERBS.values() for f in forms)}
    assert set(SYNONYMS) == content
    assert not SYNONYM_SPELLINGS & content and SYNONYM_SPELLINGS <= set(WORDS)
    assert len(WORDS) == len(set(WORDS))
    for word, syn in SYNONYMS.items():
        assert concept(word) == concept(syn) and word != syn
    assert SYNONYMS["dog"] == "hound" and SYNONYMS["big"] == "large" and SYNONYMS["chased"] == "pursued"
    # Each spelling has its own lexicon entry, so a language can share one and not the other.
    lex = lexicon(LanguageProfile("de", shared_fraction=0.5))
    assert all(w in lex for w in SYNONYM_SPELLINGS)
    halves = Counter((lex[w] == w, lex[s] == s) for w, s in SYNONYMS.items())
    assert halves[True, False] > 10 and halves[False, True] > 10
    # Foreign spellings of the original words did not change when the synonyms came.
    assert len(set(lexicon(FOREIGN_SOV).values())) == len(WORDS)


def test_lexical_share_zero_is_unchanged():
    for kwargs in ({}, LEX):
        base = pawsx_rows(FOREIGN_SOV, 500, 4, "train", **kwargs)
        assert pawsx_rows(FOREIGN_SOV, 500, 4, "train", lexical_share=0.0, **kwargs) == base
        assert pawsx_rows(FOREIGN_SOV, 500, 4, "train", lexical_share=0.0, lexical_words=None, **kwargs) == base
    assert nli_rows(FOREIGN_SOV, 500, 4, "train", lexical_share=0.0) == nli_rows(FOREIGN_SOV, 500, 4, "train")
    r = pawsx_rows(ENGLISH, 500, 4, "train")
    assert not {t for s in r["sentence1"] + r["sentence2"] for t in s.split()} & SYNONYM_SPELLINGS


def _spelled(sentence):
    """concept -> the word that spells it in ``sentence``."""
    return {concept(t): t for t in sentence.split() if concept(t)}


def _synonym_spelled(sentence):
    """concept -> whether ``sentence`` spells it as its synonym (a verb's form may differ by voice)."""
    return {c: t in SYNONYM_SPELLINGS for c, t in _spelled(sentence).items()}


def _diffs(a, b):
    ta, tb = a.split(), b.split()
    assert len(ta) == len(tb)
    return [(x, y) for x, y in zip(ta, tb) if x != y]


def _lexical_rows(n, seed, split, **kwargs):
    """English rows and, for each, whether it is a lexical row (read off the pairs: a respelled
    or replaced concept; the other rows keep both the concepts and their spelling)."""
    r = pawsx_rows(ENGLISH, n, seed, split, **LEX, **kwargs)
    pairs = pawsx_pairs(n, seed, split, LEX["passive_share"], LEX["moved_adverbs"], **kwargs)
    def concepts(s):
        return Counter(c for c in map(concept, s.split()) if c)

    lexical = [c1.synonyms != c2.synonyms or concepts(a) != concepts(b)
               for (_, c1, c2), a, b in zip(pairs, r["sentence1"], r["sentence2"])]
    return r, lexical


@pytest.mark.parametrize("words", [1, 2, None])
def test_lexical_pawsx_rows(words):
    r, lexical = _lexical_rows(3000, 5, "train", lexical_share=0.6, lexical_words=words)
    assert abs(sum(lexical) / 3000 - 0.6) < 0.04
    # The label is the role rule on concepts, for lexical rows and others alike.
    assert r["label"] == [int(parse(a) == parse(b)) for a, b in zip(r["sentence1"], r["sentence2"])]
    n_changed, n_synonym_spelled = Counter(), 0
    for a, b, label, lex in zip(r["sentence1"], r["sentence2"], r["label"], lexical):
        if not lex:  # swaps and voice changes: every concept keeps its spelling
            assert _synonym_spelled(a) == _synonym_spelled(b)
            n_synonym_spelled += any(_synonym_spelled(a).values())
            continue
        diffs = _diffs(a, b)  # one layout: the sentences differ word for word
        n_content = sum(concept(t) is not None for t in a.split())
        assert 1 <= len(diffs) <= (words or n_content)
        if words is None:
            assert len(diffs) == n_content
        for x, y in diffs:
            assert concept(x) and concept(y) and concept(x)[0] == concept(y)[0]  # same category
            assert (x in SYNONYM_SPELLINGS) != (y in SYNONYM_SPELLINGS)  # a usual and a synonym spelling
            assert (concept(x) == concept(y)) == bool(label)  # synonyms iff paraphrase
        if not label:  # the replacement is a concept the first sentence lacks
            assert not {concept(y) for _, y in diffs} & {concept(t) for t in a.split()}
        n_changed[label, len(diffs)] += 1
    assert {k for _, k in n_changed} <= set(range(1, 7))
    assert n_synonym_spelled > 0.5 * (3000 - sum(lexical))  # the other rows use synonyms too
    if words == 2:  # both labels change one or two words, in like proportions
        for label in (0, 1):
            share = n_changed[label, 2] / (n_changed[label, 1] + n_changed[label, 2])
            assert 0.3 < share < 0.7
    lex_labels = [label for label, lex in zip(r["label"], lexical) if lex]
    assert abs(sum(lex_labels) / len(lex_labels) - 0.45) < 0.04
    assert abs(sum(r["label"]) / 3000 - 0.45) < 0.03


def test_lexical_rows_by_hand():
    r = pawsx_rows(ENGLISH, 4, 0, "train", lexical_share=1.0, **LEX)
    rows = list(zip(r["sentence1"], r["sentence2"], r["label"]))
    assert rows == [  # the propositions and labels of test_english_pawsx_by_hand's rows
        # two words replaced by other concepts (happy -> shy, duck -> tiger), spelled the other way
        ("a glad duck called a huntsman .", "a shy tigress called a huntsman .", 0),
        ("the queen defeated a sagacious sheep .", "the queen forgot a weak sheep .", 0),
        ("a rabbit was welcomed by a nurse .", "a rabbit was bitten by a hog .", 0),
        # king and rich respelled: monarch, wealthy
        ("a king called a rich dog .", "a monarch called a wealthy dog .", 1),
    ]


def test_lexical_rows_keep_propositions_and_labels():
    base = pawsx_pairs(2000, 2, "test", 0.2, False)
    for words in (2, None):
        lex = pawsx_pairs(2000, 2, "test", 0.2, False, lexical_share=0.7, lexical_words=words)
        assert [row[0] for row in lex] == [row[0] for row in base]
        assert [row[1].proposition for row in lex] == [row[1].proposition for row in base]
    assert all(c.synonyms == frozenset() for _, c1, c2 in base for c in (c1, c2))


def test_lexical_determinism_parallelism_and_splits():
    kwargs = dict(lexical_share=0.5, **LEX)
    a = pawsx_rows(FOREIGN_SOV, 300, 7, "test", **kwargs)
    assert a == pawsx_rows(FOREIGN_SOV, 300, 7, "test", **kwargs)
    assert all(pawsx_rows(FOREIGN_SOV, 100, 7, "test", **kwargs)[k] == a[k][:100] for k in a)
    inverse = {v: k for k, v in lexicon(FOREIGN_SOV).items()}
    en, xx = (pawsx_rows(p, 500, 2, "train", **kwargs) for p in (ENGLISH, FOREIGN_SOV))
    assert en["label"] == xx["label"]
    for c in ("sentence1", "sentence2"):
        for e, x in zip(en[c], xx[c]):
            assert Counter(e.split()) == Counter(inverse.get(t, t) for t in x.split())
    streams = [pawsx_rows(ENGLISH, 200, s, split, **kwargs)["sentence2"]
               for s, split in ((0, "train"), (0, "validation"), (0, "test"), (1, "train"))]
    for i in range(len(streams)):
        for j in range(i):
            assert sum(x == y for x, y in zip(streams[i], streams[j])) < 5


def test_language_sharing_one_spelling():
    """A foreign sentence keeps an English spelling exactly where the language shares that form."""
    de = LanguageProfile("de", shared_fraction=0.5)
    lex = lexicon(de)
    en, xx = (pawsx_rows(p, 300, 0, "train", lexical_share=1.0, **LEX) for p in (ENGLISH, de))
    for e, x in zip(en["sentence2"], xx["sentence2"]):
        assert x.split() == [lex.get(t, t) for t in e.split()]


def test_lexical_nli_rows():
    r = nli_rows(ENGLISH, 3000, 3, "validation", lexical_share=0.5)
    base = nli_rows(ENGLISH, 3000, 3, "validation")
    assert r["label"] == base["label"]
    respelled = 0
    for prem, hyp, label, bp, bh in zip(r["premise"], r["hypothesis"], r["label"], base["premise"],
                                        base["hypothesis"]):
        p, h = parse(prem), parse(hyp)
        assert (p, h) == (parse(bp), parse(bh))  # the same propositions, spelled otherwise
        if (h[0][2], h[2][2]) == (p[2][2], p[0][2]):
            assert label == 2
        else:
            assert label == (0 if _mods(h) <= _mods(p) else 1)
        sp, sh = _spelled(prem), _spelled(hyp)
        respelled += any(sp[c] != sh[c] for c in sp.keys() & sh.keys())
    assert 0.4 < respelled / 3000 < 0.6
    en, xx = (nli_rows(p, 300, 1, "test", lexical_share=0.5) for p in (ENGLISH, FOREIGN_SOV))
    assert en["label"] == xx["label"]


@pytest.mark.parametrize("kwargs, needle", [
    (dict(lexical_share=1.5), "lexical_share must be in"),
    (dict(lexical_share=-0.1), "lexical_share must be in"),
    (dict(lexical_words=0), "lexical_words must be"), (dict(lexical_words=1.5), "lexical_words must be"),
    (dict(lexical_words=True), "lexical_words must be"),
])
def test_lexical_errors(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        pawsx_rows(ENGLISH, 10, 0, "train", **kwargs)
    if "lexical_share" in kwargs:
        with pytest.raises(ValueError, match=needle):
            nli_rows(ENGLISH, 10, 0, "train", **kwargs)


# --- planted sharing: a typology effect by construction (the controls of `make validate`) -----------

def test_cognate_spellings_are_shared_with_probability_exp_minus_rate_times_tree_distance():
    from dlfa.data.lexicon import CONCEPT_FORMS, WORDS, cognate_spellings
    from dlfa.data.synthetic import SYNONYMS
    languages = ["a", "b", "c", "d"]
    d = np.array([[0, .1, .6, .6], [.1, 0, .6, .6], [.6, .6, 0, .2], [.6, .6, .2, 0]])  # ultrametric
    spellings = [cognate_spellings(languages, d, rate=2.0, seed=s) for s in range(6)]
    # The unit is the concept (a word and its synonyms change together), so count concepts, not words.
    share = lambda x, y: np.mean([sp[x][c] == sp[y][c] for sp in spellings for c in CONCEPT_FORMS])  # noqa: E731
    n = 6 * len(CONCEPT_FORMS)
    for sp in spellings:
        for word, synonym in SYNONYMS.items():
            assert (sp["a"][word] == sp["c"][word]) == (sp["a"][synonym] == sp["c"][synonym])
    assert {w for forms in CONCEPT_FORMS.values() for w in forms} == set(WORDS)
    for (x, y), dist in {("a", "b"): .1, ("c", "d"): .2, ("a", "c"): .6, ("b", "d"): .6}.items():
        expected = np.exp(-2.0 * dist)
        assert abs(share(x, y) - expected) < 4 * np.sqrt(expected * (1 - expected) / n), (x, y, share(x, y))
    assert all(w not in WORDS for sp in spellings for lang in languages for w in sp[lang].values())
    with pytest.raises(ValueError, match="rate must be > 0"):
        cognate_spellings(languages, d, rate=0)


def test_planted_languages_keep_english_word_order_and_their_english_share_unless_given_one():
    from dlfa.data import corpora as data
    from dlfa.data import lexicon
    planted = PlantedSpec("syntactic", "cosine", 3.5, False, 0, None, 0.0)
    plain, control = data.synthetic_profile("ja"), data.synthetic_profile("ja", planted)
    assert plain.order == "SOV" and control.order == "SVO" and control.adj_before_noun
    assert control.shared_fraction == plain.shared_fraction and control.cognates is not None
    low = data.synthetic_profile("ja", planted._replace(english_share=0.1))
    assert low.shared_fraction == 0.1 and low.cognates == control.cognates
    lex_low, lex = lexicon.lexicon(low), lexicon.lexicon(control)
    english = {w for w in lexicon.WORDS if lex_low[w] == w}
    assert english < {w for w in lexicon.WORDS if lex[w] == w}  # sharing nests: fewer English words
    assert abs(len(english) / len(lexicon.WORDS) - 0.1) < 0.05
    assert all(lex_low[w] == lex[w] for w in lexicon.WORDS if lex[w] != w)  # the cognates are unchanged
    nli, _ = data.load_corpus(data.intermediate_task("xnli"), "synthetic", "de", "train", size=40, planted=planted)
    assert set(nli["label"]) == {0, 2}  # lexical NLI: synonyms entail, other concepts contradict
    pawsx, _ = data.load_corpus(data.PAWSX, "synthetic", "de", "train", size=40, planted=planted)
    assert nli["sentence1"] != pawsx["sentence1"]  # other propositions than PAWS-X's


def test_the_null_control_plants_the_same_sharing_unrelated_to_distance():
    from scipy.stats import spearmanr

    from dlfa.data import corpora as data
    real = data.planted_distances("syntactic", "cosine", False, 0)
    permuted = data.planted_distances("syntactic", "cosine", True, 0)
    upper = np.triu_indices(len(real), 1)
    a, b = real.to_numpy()[upper], permuted.to_numpy()[upper]
    assert np.allclose(np.sort(a), np.sort(b))  # the same distances, so the same amount of sharing
    assert abs(spearmanr(a, b).statistic) < 0.3  # ... assigned to other pairs
    assert list(real.index) == list(data.PLANTED_LANGUAGES) and "en" not in real.index


def test_crosslingual_rows_put_the_first_sentence_in_english_and_change_nothing_else():
    from dlfa.data import corpora as data
    from dlfa.data import lexicon, synthetic
    de = data.synthetic_profile("de", PlantedSpec("syntactic", "cosine", 3.5, False, 0, 0.1, 0.0))
    kwargs = dict(passive_share=0.2, lexical_share=1.0, lexical_words=None)
    mono = synthetic.pawsx_rows(de, 400, 3, "train", **kwargs)
    assert synthetic.pawsx_rows(de, 400, 3, "train", **kwargs, crosslingual_share=0.0) == mono
    crossed = synthetic.pawsx_rows(de, 400, 3, "train", **kwargs, crosslingual_share=0.5)
    english = synthetic.pawsx_rows(synthetic.ENGLISH, 400, 3, "train", **kwargs)
    assert crossed["label"] == mono["label"] and crossed["sentence2"] == mono["sentence2"]
    first_english = [a == e for a, e in zip(crossed["sentence1"], english["sentence1"])]
    assert all(a == e or a == m for a, e, m in zip(crossed["sentence1"], english["sentence1"], mono["sentence1"]))
    assert 0.4 < np.mean(first_english) < 0.6  # about the share, and every other row as it was
    assert synthetic.pawsx_rows(de, 400, 3, "train", **kwargs, crosslingual_share=1.0)["sentence1"] == english["sentence1"]
    with pytest.raises(ValueError, match="crosslingual_share must be in \\[0, 1\\]"):
        synthetic.pawsx_rows(de, 4, 3, "train", crosslingual_share=2.0)
    # Through the study's corpus: only the intermediate task's rows are crossed, never PAWS-X's.
    planted = PlantedSpec("syntactic", "cosine", 3.5, False, 0, 0.1, 1.0)
    nli, _ = data.load_corpus(data.intermediate_task("xnli"), "synthetic", "bg", "train", size=40, planted=planted)
    en_words = set(lexicon.WORDS)
    assert all(set(s.split()[:-1]) <= en_words for s in nli["sentence1"])
    pawsx, _ = data.load_corpus(data.PAWSX, "synthetic", "de", "train", size=40, planted=planted)
    flat, _ = data.load_corpus(data.PAWSX, "synthetic", "de", "train", size=40, planted=planted._replace(crosslingual_share=0.0))
    assert pawsx["sentence1"] == flat["sentence1"]
