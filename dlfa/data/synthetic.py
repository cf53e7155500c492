"""Synthetic PAWS-X- and XNLI-shaped corpora in synthetic languages: a positive control.

One concept, the synthetic corpus and its grammar (hence its length).

A small grammar (determiner, adjective, noun, transitive verb, optional time adverb; active and
passive clauses) expresses propositions "agent VERBed patient". Each synthetic language realises
the same propositions with its own word order and a lexicon that spells a fraction of its words as
English does, so a model trained on English should transfer zero-shot in proportion to the shared
lexicon, and only if the word order matches (docs/data.md, "The synthetic corpus"; the planted
controls are in docs/validation.md).

Realisation (English tokens in the language's order, then mapped through its lexicon):

- noun phrase: ``det adj noun``, or ``det noun adj`` when ``adj_before_noun`` is False; the
  adjective is optional.
- active clause: agent (S), past-tense verb (V) and patient (O) in the order ``order``.
- passive clause: the patient plays S, the verb group ``was + participle`` plays V and the agent
  phrase ``by NP`` (``NP by`` when ``adposition_before_noun`` is False) plays O, in the same order.
  So SOV gives ``patient agent-phrase was chased`` (verb group last), VSO ``was chased patient
  agent-phrase`` (verb group first).
- an optional time adverb stands first or last in the clause. Its position carries no meaning, so
  moving it gives a same-voice paraphrase.

Labels come from the propositions, never from the surface:

- PAWS-X: 1 iff both sentences express the same proposition. Positives change the voice or move
  the adverb; negatives swap agent and patient (a few move the only adjective to the other noun).
  The surface pattern (voices, adverb positions) is drawn independently of the label and both
  sentences always hold the same words, so only who did what to whom tells the label.
- XNLI: entailment (0) = the hypothesis restates the premise (voice change, adverb moved), possibly
  dropping one modifier (an adjective or the adverb); neutral (1) = it adds a modifier the premise
  lacks (a new adjective or a time adverb); contradiction (2) = agent and patient swapped, possibly
  dropping a modifier (the two sentences describe one event, as SNLI's annotators assume). "A
  different object" is not used for neutral: under that one-event convention it would be a
  contradiction.

Lexical paraphrases (``lexical_share`` > 0; 0 gives the rows above, unchanged). Every content
concept (noun, adjective, verb, adverb) has two English spellings: its usual word and a synonym
(dog/hound, big/large, chased/pursued, ...: ``SYNONYMS``). Both are in ``WORDS`` and each has its
own lexicon entry, so a language may share one spelling with English and not the other. Each
sentence spells each concept either way at random (``SYNONYM_SPELLING_SHARE``), and:

- PAWS-X: a share ``lexical_share`` of rows are lexical minimal pairs: both sentences have one
  layout (voice, adverb position) and the second changes k content words (k from 1 to
  ``lexical_words``, or all of them). Paraphrase (1): each changed word is the same concept in its
  other spelling. Not (0): each is another concept of the same category, absent from the
  proposition, spelled the other way from the word it replaces. Both labels change the same
  number of words and pair a usual with a synonym spelling, so only whether the words name the
  same concepts tells the label. The other rows are the swaps and voice changes above, with one
  spelling per concept shared by both sentences.
- XNLI: in a share ``lexical_share`` of rows the hypothesis respells one or two of its concepts.

Cross-lingual rows (``pawsx_rows(..., crosslingual_share=c)``): in a share c of rows, drawn from a
stream of their own, the first sentence is realised in English and the second in the language;
the propositions, layouts, spellings and labels stay those of the monolingual rows. The planted
control uses them for its intermediate task (``dlfa.data.corpora``), so that a language's stage ties its
spellings to English ones.

Lexical decisions come from a random stream of their own, so row i keeps its proposition and
label whatever ``lexical_share`` is. A model must know which spellings are synonyms; in another
language it can tell only where the language spells both words as English does, so zero-shot
accuracy on lexical rows falls with ``shared_fraction`` whatever the word order.

Row i is drawn from (task, seed, split) alone, so it means the same thing in every language. A
language's lexicon depends on its code and ``lexicon_seed`` (default 0), not on the row seed, so a
language stays the same across a study's seeds and splits.
"""

from __future__ import annotations

import math
import operator
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple


class PlantedSpec(NamedTuple):
    """``planted_sharing`` as the synthetic corpus reads it: the distance (kind, metric) the sharing
    follows and the ``PlantedSharing`` values (hashable: corpora are cached by it)."""

    kind: str
    metric: str
    rate: float
    permuted: bool
    seed: int
    english_share: float | None
    crosslingual_share: float


ORDERS = ("SVO", "SOV", "VSO", "VOS", "OVS", "OSV")
SPLITS = ("train", "validation", "test")
ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2

NOUNS = (
    "dog", "cat", "bird", "horse", "fox", "wolf", "bear", "lion", "tiger", "mouse",
    "rabbit", "goat", "sheep", "cow", "pig", "duck", "crow", "frog", "snake", "monkey",
    "farmer", "teacher", "doctor", "student", "child", "king", "queen", "soldier", "sailor",
    "baker", "pilot", "dancer", "writer", "singer", "hunter", "driver", "nurse", "judge",
    "lawyer", "painter",
)
ADJECTIVES = (
    "big", "small", "wise", "young", "tall", "short", "happy", "sad", "grumpy", "calm",
    "brave", "shy", "clever", "lazy", "quick", "slow", "strong", "weak", "kind", "rude",
    "loud", "quiet", "rich", "poor", "hungry",
)
VERBS = {  # lemma -> (past, participle)
    "chase": ("chased", "chased"), "see": ("saw", "seen"), "bite": ("bit", "bitten"),
    "know": ("knew", "known"), "wake": ("woke", "woken"), "forget": ("forgot", "forgotten"),
    "choose": ("chose", "chosen"), "beat": ("beat", "beaten"), "draw": ("drew", "drawn"),
    "help": ("helped", "helped"), "follow": ("followed", "followed"), "push": ("pushed", "pushed"),
    "visit": ("visited", "visited"), "call": ("called", "called"), "meet": ("met", "met"),
    "find": ("found", "found"), "catch": ("caught", "caught"), "teach": ("taught", "taught"),
    "greet": ("greeted", "greeted"), "watch": ("watched", "watched"), "hear": ("heard", "heard"),
    "admire": ("admired", "admired"), "blame": ("blamed", "blamed"),
    "praise": ("praised", "praised"), "feed": ("fed", "fed"),
}
ADVERBS = ("yesterday", "today", "again", "recently", "suddenly", "twice")
DETERMINERS = ("the", "a")  # every noun and adjective starts with a consonant, so "a" fits
AUX, AGENT_MARKER = "was", "by"

# A second English spelling of every content concept (see "Lexical paraphrases" in the module
# docstring). Real English where natural, otherwise a plausible word; none of them can come out of
# the pseudo-word generator, so foreign spellings of the original words are what they always were.
NOUN_SYNONYMS = {
    "dog": "hound", "cat": "kitty", "bird": "fowl", "horse": "steed", "fox": "vixen",
    "wolf": "warg", "bear": "bruin", "lion": "leo", "tiger": "tigress", "mouse": "rodent",
    "rabbit": "bunny", "goat": "billy", "sheep": "lamb", "cow": "heifer", "pig": "hog",
    "duck": "mallard", "crow": "rook", "frog": "toad", "snake": "serpent", "monkey": "chimp",
    "farmer": "rancher", "teacher": "mentor", "doctor": "physician", "student": "scholar",
    "child": "kid", "king": "monarch", "queen": "czarina", "soldier": "warrior",
    "sailor": "seaman", "baker": "breadmaker", "pilot": "flyer", "dancer": "ballerina",
    "writer": "novelist", "singer": "vocalist", "hunter": "huntsman", "driver": "chauffeur",
    "nurse": "carer", "judge": "magistrate", "lawyer": "barrister", "painter": "muralist",
}
ADJECTIVE_SYNONYMS = {
    "big": "large", "small": "little", "wise": "sagacious", "young": "youthful", "tall": "lofty",
    "short": "stubby", "happy": "glad", "sad": "sorrowful", "grumpy": "cranky", "calm": "tranquil",
    "brave": "bold", "shy": "bashful", "clever": "smart", "lazy": "slothful", "quick": "fast",
    "slow": "sluggish", "strong": "mighty", "weak": "feeble", "kind": "friendly", "rude": "cheeky",
    "loud": "noisy", "quiet": "silent", "rich": "wealthy", "poor": "needy", "hungry": "starving",
}
VERB_SYNONYMS = {  # lemma -> (synonym lemma, past, participle)
    "chase": ("pursue", "pursued", "pursued"), "see": ("spot", "spotted", "spotted"),
    "bite": ("nip", "nipped", "nipped"), "know": ("recognise", "recognised", "recognised"),
    "wake": ("rouse", "roused", "roused"), "forget": ("neglect", "neglected", "neglected"),
    "choose": ("select", "selected", "selected"), "beat": ("defeat", "defeated", "defeated"),
    "draw": ("sketch", "sketched", "sketched"), "help": ("assist", "assisted", "assisted"),
    "follow": ("trail", "trailed", "trailed"), "push": ("shove", "shoved", "shoved"),
    "visit": ("tour", "toured", "toured"), "call": ("phone", "phoned", "phoned"),
    "meet": ("encounter", "encountered", "encountered"),
    "find": ("discover", "discovered", "discovered"),
    "catch": ("capture", "captured", "captured"), "teach": ("instruct", "instructed", "instructed"),
    "greet": ("welcome", "welcomed", "welcomed"), "watch": ("observe", "observed", "observed"),
    "hear": ("overhear", "overheard", "overheard"), "admire": ("esteem", "esteemed", "esteemed"),
    "blame": ("accuse", "accused", "accused"), "praise": ("commend", "commended", "commended"),
    "feed": ("nourish", "nourished", "nourished"),
}
ADVERB_SYNONYMS = {
    "yesterday": "yestreen", "today": "thisday", "again": "anew", "recently": "lately",
    "suddenly": "abruptly", "twice": "doubly",
}
# Every content word form -> the same concept's other spelling in the same grammatical form.
SYNONYMS = {
    **NOUN_SYNONYMS, **ADJECTIVE_SYNONYMS, **ADVERB_SYNONYMS,
    **{form: syn for lemma, (_, *syns) in VERB_SYNONYMS.items()
       for form, syn in zip(VERBS[lemma], syns)},
}
_BASE_WORDS = tuple(sorted({*NOUNS, *ADJECTIVES, *ADVERBS, *DETERMINERS, AUX, AGENT_MARKER,
                            *(form for forms in VERBS.values() for form in forms)}))
WORDS = tuple(sorted({*_BASE_WORDS, *SYNONYMS.values()}))
_LEMMAS = tuple(VERBS)

PAWSX_NEGATIVE_SHARE = 0.55  # PAWS-X is about 55/45 (0/1)
ADJ_MOVE_SHARE = 0.2  # of negatives whose proposition has exactly one adjective
SYNONYM_SPELLING_SHARE = 0.5  # with lexical_share > 0: chance that a concept is spelled as its synonym


def _check_synonyms() -> None:
    """The synonym tables cover every content word once, with new, distinct spellings."""
    pseudo = re.compile(f"([{_CONSONANTS}][{_VOWELS}]){{2,3}}[{_CONSONANTS}]?")
    content = {*NOUNS, *ADJECTIVES, *ADVERBS, *(f for forms in VERBS.values() for f in forms)}
    assert set(SYNONYMS) == content and set(VERB_SYNONYMS) == set(VERBS)
    assert set(NOUN_SYNONYMS) == set(NOUNS) and set(ADJECTIVE_SYNONYMS) == set(ADJECTIVES)
    assert set(ADVERB_SYNONYMS) == set(ADVERBS)
    syn_lemmas = [lemma for lemma, *_ in VERB_SYNONYMS.values()]
    assert len(set(syn_lemmas)) == len(syn_lemmas) and not set(syn_lemmas) & set(VERBS)
    singles = [*NOUN_SYNONYMS.values(), *ADJECTIVE_SYNONYMS.values(), *ADVERB_SYNONYMS.values()]
    assert len(set(singles)) == len(singles)
    assert not set(SYNONYMS.values()) & set(_BASE_WORDS)
    verb_forms = {form for _, *forms in VERB_SYNONYMS.values() for form in forms}
    assert not set(singles) & verb_forms and len(singles) + len(verb_forms) == len(WORDS) - len(_BASE_WORDS)
    assert all(w[0] not in "aeiou" for w in [*NOUN_SYNONYMS.values(), *ADJECTIVE_SYNONYMS.values()])
    clash = [w for w in SYNONYMS.values() if pseudo.fullmatch(w)]
    assert not clash, f"synonyms the pseudo-word generator could draw: {clash}"


@dataclass(frozen=True)
class LanguageProfile:
    """How a synthetic language realises a proposition (see the module docstring)."""

    code: str
    order: str = "SVO"
    adj_before_noun: bool = True
    adposition_before_noun: bool = True  # position of the agent marker in passives
    shared_fraction: float = 1.0  # share of words spelled as in English
    # Spellings of the words not shared with English, as (word, spelling) pairs (``cognate_spellings``);
    # None: a pseudo-word of this language's own for each.
    cognates: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self):
        if not isinstance(self.code, str) or not self.code:
            raise ValueError(f"code must be a non-empty string, got {self.code!r}")
        if self.order not in ORDERS:
            raise ValueError(f"order {self.order!r} is not one of {', '.join(ORDERS)}")
        if not 0.0 <= self.shared_fraction <= 1.0:
            raise ValueError(f"shared_fraction {self.shared_fraction!r} is outside [0, 1]")


ENGLISH = LanguageProfile("en")

# ---------------------------------------------------------------------------------------- lexicon

_CONSONANTS = "bdfghklmnprstvwz"
_VOWELS = "aeiou"
_check_synonyms()


@lru_cache(maxsize=None)
def _pseudo_words(code: str, seed: int) -> dict[str, str]:
    """A pseudo-word for every English word, independent of shared_fraction (so sharing nests)."""
    rng = random.Random(f"dlfa.synthetic.pseudo|{code}|{seed}")
    # Each language gets its own sound inventory, so languages look unlike each other.
    cons, vowels = rng.sample(_CONSONANTS, 10), rng.sample(_VOWELS, 4)
    used, out = set(WORDS), {}
    # The original words first and in their old order, so adding synonyms changed none of their
    # pseudo-words (no synonym can be drawn: _check_synonyms).
    for word in (*_BASE_WORDS, *sorted(set(WORDS) - set(_BASE_WORDS))):
        while True:
            syllables = rng.choice((2, 2, 3))
            pseudo = "".join(rng.choice(cons) + rng.choice(vowels) for _ in range(syllables))
            pseudo += rng.choice(cons) if rng.random() < 0.3 else ""
            if pseudo not in used:
                break
        used.add(pseudo)
        out[word] = pseudo
    return out


@lru_cache(maxsize=None)
def _share_draws(code: str, seed: int) -> dict[str, float]:
    """One uniform draw per word; a word is shared iff its draw < shared_fraction (nested)."""
    return {w: random.Random(f"dlfa.synthetic.share|{code}|{seed}|{w}").random() for w in WORDS}


@lru_cache(maxsize=None)
def _lexicon(profile: LanguageProfile, seed: int) -> dict[str, str]:
    draws = _share_draws(profile.code, seed)
    pseudo = dict(profile.cognates) if profile.cognates is not None else _pseudo_words(profile.code, seed)
    return {w: w if draws[w] < profile.shared_fraction else pseudo[w] for w in WORDS}


def cognate_spellings(languages: list[str], distances, rate: float, seed: int = 0) -> dict[str, dict[str, str]]:
    """Spellings that languages share more the closer they are: cognates on a tree, by construction.

    The languages are joined into a tree by average linkage (UPGMA) on ``distances`` (a square
    matrix in their order), so that the tree distance between two languages (the cophenetic
    distance c) follows the given one. Each word's spelling starts as one pseudo-word at the root
    and, on each branch of length l, is replaced by a new pseudo-word with probability
    ``1 - exp(-rate * l)``. Two languages then spell a word alike iff no replacement happened on
    the path between them: with probability ``exp(-rate * c)``, independently for every concept
    (a word and its synonym change together: ``CONCEPT_FORMS``).
    Returns language -> English word -> its spelling there.
    """
    import numpy as np
    from scipy.cluster.hierarchy import linkage, to_tree
    from scipy.spatial.distance import squareform
    if not rate > 0:
        raise ValueError(f"rate must be > 0; got {rate!r}")
    matrix = np.asarray(distances, dtype=float)
    if matrix.shape != (len(languages), len(languages)) or not np.allclose(matrix, matrix.T):
        raise ValueError(f"distances must be a symmetric {len(languages)} x {len(languages)} matrix")
    root = to_tree(linkage(squareform(matrix, checks=False), method="average"))
    out: dict[str, dict[str, str]] = {lang: {} for lang in languages}
    for concept, forms in CONCEPT_FORMS.items():
        rng = random.Random(f"dlfa.synthetic.cognate|{seed}|{concept}")
        stack = [(root, _fresh_spellings(rng, len(forms)), root.dist / 2)]  # node, its spellings, its height
        while stack:
            node, spellings, height = stack.pop()
            if node.is_leaf():
                out[languages[node.id]].update(zip(forms, spellings))
                continue
            for child in (node.left, node.right):
                child_height = child.dist / 2 if not child.is_leaf() else 0.0
                kept = rng.random() < math.exp(-rate * (height - child_height))
                stack.append((child, spellings if kept else _fresh_spellings(rng, len(forms)), child_height))
    return out


def _concept_forms() -> dict[str, tuple[str, ...]]:
    """Word forms joined through SYNONYMS (saw, seen and spotted are one group), keyed by their first."""
    group = {w: {w} for w in WORDS}
    for word, synonym in SYNONYMS.items():
        joined = group[word] | group[synonym]
        for w in joined:
            group[w] = joined
    return {min(g): tuple(sorted(g)) for g in map(frozenset, group.values())}


# A concept's spellings (a word form and its synonym) change on the same branches, so a language that
# shares one with another shares both: knowing a target's synonym pair then takes one shared concept,
# not two independent words. Function words are concepts of their own.
CONCEPT_FORMS = _concept_forms()


def _fresh_spellings(rng: random.Random, n: int) -> tuple[str, ...]:
    return tuple(_fresh_spelling(rng) for _ in range(n))


def _fresh_spelling(rng: random.Random) -> str:
    """A pseudo-word no English word of the grammar uses (the alphabet and sizes of ``_pseudo_words``)."""
    while True:
        pseudo = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.choice((2, 3, 3))))
        if pseudo not in WORDS:
            return pseudo


def lexicon(profile: LanguageProfile, seed: int = 0) -> dict[str, str]:
    """English word -> this language's word, for every word form the grammar uses (``WORDS``)."""
    return dict(_lexicon(profile, seed))


# ----------------------------------------------------------------------------------- propositions

NP = tuple[str, "str | None", str]  # (det, adjective or None, noun)


class Proposition(NamedTuple):
    agent: NP
    verb: str  # lemma
    patient: NP
    adverb: str | None = None


def _sample_proposition(rng: random.Random, adverb: bool) -> Proposition:
    agent, patient = rng.sample(NOUNS, 2)  # distinct nouns, so a swap always changes the meaning
    adj_a, adj_p = rng.sample(ADJECTIVES, 2)
    return Proposition(
        (rng.choice(DETERMINERS), adj_a if rng.random() < 0.5 else None, agent),
        rng.choice(_LEMMAS),
        (rng.choice(DETERMINERS), adj_p if rng.random() < 0.5 else None, patient),
        rng.choice(ADVERBS) if adverb else None,
    )


def _swap(p: Proposition) -> Proposition:
    return p._replace(agent=p.patient, patient=p.agent)


def _move_adjective(p: Proposition) -> Proposition:
    """Move the only adjective to the other noun phrase."""
    (da, aa, na), (dp, ap, np_) = p.agent, p.patient
    return p._replace(agent=(da, ap, na), patient=(dp, aa, np_))


def _modifiers(p: Proposition) -> set[tuple[str, str]]:
    mods = {("agent", p.agent[1]), ("patient", p.patient[1]), ("adverb", p.adverb)}
    return {m for m in mods if m[1] is not None}


def _drop_modifier(rng: random.Random, p: Proposition) -> Proposition:
    present = sorted(slot for slot, _ in _modifiers(p))
    if not present:
        return p
    return _set_modifier(p, rng.choice(present), None)


def _set_modifier(p: Proposition, slot: str, value: str | None) -> Proposition:
    if slot == "adverb":
        return p._replace(adverb=value)
    det, _, noun = getattr(p, slot)
    return p._replace(**{slot: (det, value, noun)})


def _add_modifier(rng: random.Random, p: Proposition) -> tuple[Proposition, Proposition]:
    """(hypothesis, premise): add an adjective or adverb the premise lacks; if it has all three,
    drop one from the premise first."""
    missing = sorted({"agent", "patient", "adverb"} - {slot for slot, _ in _modifiers(p)})
    if not missing:
        p = _drop_modifier(rng, p)
        missing = sorted({"agent", "patient", "adverb"} - {slot for slot, _ in _modifiers(p)})
    slot = rng.choice(missing)
    if slot == "adverb":
        return p._replace(adverb=rng.choice(ADVERBS)), p
    new = rng.choice([a for a in ADJECTIVES if a not in (p.agent[1], p.patient[1])])
    return _set_modifier(p, slot, new), p


def _concepts(p: Proposition) -> list[str]:
    """The content concepts of ``p`` (adjectives, nouns, verb lemma, adverb) in a fixed order."""
    (_, adj_a, agent), (_, adj_p, patient) = p.agent, p.patient
    return [c for c in (adj_a, agent, p.verb, adj_p, patient, p.adverb) if c is not None]


def _category(concept: str) -> tuple[str, ...]:
    for words in (NOUNS, ADJECTIVES, _LEMMAS, ADVERBS):
        if concept in words:
            return words
    raise KeyError(concept)


def _replace_concept(rng: random.Random, p: Proposition, old: str, avoid=()) -> tuple[Proposition, str]:
    """``p`` with concept ``old`` replaced by another concept of its category that neither ``p``
    nor ``avoid`` holds."""
    taken = {*_concepts(p), *avoid}
    new = rng.choice([w for w in _category(old) if w not in taken])
    sub = lambda w: new if w == old else w  # noqa: E731
    return Proposition(tuple(map(sub, p.agent)), sub(p.verb), tuple(map(sub, p.patient)),
                       sub(p.adverb)), new


def _spelling(rng: random.Random, concepts) -> frozenset:
    """Each concept spelled as its synonym with probability SYNONYM_SPELLING_SHARE."""
    return frozenset(c for c in concepts if rng.random() < SYNONYM_SPELLING_SHARE)


def _lexical_pair(rng: random.Random, same: bool, p: Proposition, passive: bool, adverb_first: bool,
                  words: int | None) -> tuple[Clause, Clause]:
    """A lexical minimal pair in one layout (module docstring, "Lexical paraphrases").

    The first sentence spells each concept either way; the second changes k of its content
    words, k uniform on 1..``words`` (every content word when ``words`` is None). A paraphrase
    respells each changed concept as its other spelling; a non-paraphrase replaces each by another
    concept of its category (one the proposition lacks), spelled the other way from the word it
    replaces. So both kinds change the same number of words and always pair a usual spelling with
    a synonym spelling: only whether the two words name the same concept tells the label.
    """
    concepts = _concepts(p)
    spelling = _spelling(rng, concepts)
    k = len(concepts) if words is None else min(rng.randint(1, words), len(concepts))
    changed = rng.sample(concepts, k)
    if same:
        return (Clause(p, passive, adverb_first, spelling),
                Clause(p, passive, adverb_first, spelling ^ set(changed)))
    p2, spelling2 = p, set(spelling)
    for old in changed:
        p2, new = _replace_concept(rng, p2, old, avoid=concepts)
        spelling2.discard(old)
        if old not in spelling:
            spelling2.add(new)
    return Clause(p, passive, adverb_first, spelling), Clause(p2, passive, adverb_first, frozenset(spelling2))


def pawsx_label(p1: Proposition, p2: Proposition) -> int:
    """1 iff the two sentences say the same thing."""
    return int(p1 == p2)


def nli_label(premise: Proposition, hypothesis: Proposition) -> int:
    """0 entailment, 1 neutral, 2 contradiction, for propositions about one event."""
    if (hypothesis.agent[2], hypothesis.patient[2]) == (premise.patient[2], premise.agent[2]):
        return CONTRADICTION
    return ENTAILMENT if _modifiers(hypothesis) <= _modifiers(premise) else NEUTRAL


# ------------------------------------------------------------------------------------ realisation


class Clause(NamedTuple):
    """How one sentence of a row expresses its proposition."""

    proposition: Proposition
    passive: bool
    adverb_first: bool
    synonyms: frozenset = frozenset()  # concepts (nouns, adjectives, verb lemmas, adverbs) spelled
    #                                    with their synonym (NOUN_SYNONYMS, VERB_SYNONYMS, ...)


def realise(p: Proposition, passive: bool, adverb_first: bool, profile: LanguageProfile,
            lexicon_seed: int = 0, synonyms: frozenset = frozenset()) -> str:
    """The sentence for ``p`` in ``profile``'s language: lowercase tokens, ending with " ."."""
    return _realise(p, passive, adverb_first, synonyms, profile, _lexicon(profile, lexicon_seed))


def _realise(p, passive, adverb_first, synonyms, profile, lex) -> str:
    def spell(word):
        return SYNONYMS[word] if word in synonyms else word

    def phrase(np):
        det, adj, noun = np
        if adj is None:
            return [det, spell(noun)]
        return [det, spell(adj), spell(noun)] if profile.adj_before_noun else [det, spell(noun), spell(adj)]

    past, participle = VERB_SYNONYMS[p.verb][1:] if p.verb in synonyms else VERBS[p.verb]
    if passive:
        agent = phrase(p.agent)
        by = [AGENT_MARKER, *agent] if profile.adposition_before_noun else [*agent, AGENT_MARKER]
        roles = {"S": phrase(p.patient), "V": [AUX, participle], "O": by}
    else:
        roles = {"S": phrase(p.agent), "V": [past], "O": phrase(p.patient)}
    tokens = [t for role in profile.order for t in roles[role]]
    if p.adverb is not None:
        adverb = spell(p.adverb)
        tokens = [adverb, *tokens] if adverb_first else [*tokens, adverb]
    return " ".join(lex[t] for t in tokens) + " ."


# ------------------------------------------------------------------------------------------- rows


def _check(n, split) -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise ValueError(f"n must be an integer >= 1, got {n!r}") from None
    if n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    return n


def _rng(task: str, seed: int, split: str) -> random.Random:
    # A str seed is hashed with SHA-512: stable across runs, unlike hash().
    return random.Random(f"dlfa.synthetic.{task}|{int(seed)}|{split}")


def _check_words(words) -> None:
    if words is not None and (isinstance(words, bool) or not isinstance(words, int) or words < 1):
        raise ValueError(f"lexical_words must be an integer >= 1 or None; got {words!r}")


def _check_share(share: float, name: str = "passive_share") -> None:
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {share!r}")


def pawsx_pairs(n: int, seed: int, split: str, passive_share: float = 0.5, moved_adverbs: bool = True,
                lexical_share: float = 0.0, lexical_words: int | None = 2) -> list:
    """Rows as (label, Clause(p1, passive1, adverb_first1, synonyms1), Clause(p2, ...)).

    ``passive_share`` is the probability that a clause is passive. ``moved_adverbs=False`` drops
    the adverb, so same-voice paraphrases are identical sentences. Both make the task easier for a
    model trained from scratch in seconds, without changing which propositions are drawn.

    ``lexical_share`` is the probability that a row is a lexical minimal pair (module docstring,
    "Lexical paraphrases"); its choices come from a stream of their own, so row i keeps its
    proposition and label whatever the share, and 0.0 gives exactly the rows without synonyms.
    A lexical row changes 1..``lexical_words`` content words (all of them when None).
    """
    n, rng, out = _check(n, split), _rng("pawsx", seed, split), []
    _check_share(passive_share)
    _check_share(lexical_share, "lexical_share")
    _check_words(lexical_words)
    lex_rng = _rng("pawsx.lexical", seed, split) if lexical_share > 0 else None
    for _ in range(n):
        # The surface pattern is drawn before, and independently of, the label.
        passive1, passive2 = rng.random() < passive_share, rng.random() < passive_share
        same_voice = passive1 == passive2
        first1 = rng.random() < 0.5
        first2 = (not first1) if same_voice else rng.random() < 0.5  # same voice: adverb moves
        p1 = _sample_proposition(rng, adverb=same_voice or rng.random() < 0.5)
        if not moved_adverbs:
            p1 = p1._replace(adverb=None)
        if rng.random() >= PAWSX_NEGATIVE_SHARE:
            p2 = p1
        elif (p1.agent[1] is None) != (p1.patient[1] is None) and rng.random() < ADJ_MOVE_SHARE:
            p2 = _move_adjective(p1)
        else:
            p2 = _swap(p1)
        first, second = Clause(p1, passive1, first1), Clause(p2, passive2, first2)
        if lex_rng is not None:
            if lex_rng.random() < lexical_share:
                first, second = _lexical_pair(lex_rng, p2 == p1, p1, passive1, first1, lexical_words)
            else:  # the same spelling in both sentences: a swap still keeps every word
                spelling = _spelling(lex_rng, _concepts(p1))
                first, second = first._replace(synonyms=spelling), second._replace(synonyms=spelling)
        out.append((pawsx_label(first.proposition, second.proposition), first, second))
    return out


def nli_pairs(n: int, seed: int, split: str, passive_share: float = 0.5, lexical_share: float = 0.0) -> list:
    """Rows as (label, Clause(premise, ...), Clause(hypothesis, ...)).

    With ``lexical_share`` > 0 every concept gets a random spelling, the same in both sentences,
    and in a share ``lexical_share`` of rows the hypothesis respells one or two of its concepts
    as their synonym (labels do not change: they come from the concepts).
    """
    n, rng, out = _check(n, split), _rng("nli", seed, split), []
    _check_share(passive_share)
    _check_share(lexical_share, "lexical_share")
    lex_rng = _rng("nli.lexical", seed, split) if lexical_share > 0 else None
    for _ in range(n):
        target = rng.randrange(3)
        p = _sample_proposition(rng, adverb=rng.random() < 0.5)
        passive_p, first_p = rng.random() < passive_share, rng.random() < 0.5
        passive_h, first_h = rng.random() < passive_share, rng.random() < 0.5
        if target == ENTAILMENT:
            h = _drop_modifier(rng, p) if rng.random() < 0.6 else p
        elif target == NEUTRAL:
            h, p = _add_modifier(rng, p)
        else:
            h = _swap(p)
            h = _drop_modifier(rng, h) if rng.random() < 0.3 else h
        if h == p and passive_h == passive_p and (p.adverb is None or first_h == first_p):
            passive_h = not passive_p  # never an identical pair
        premise, hypothesis = Clause(p, passive_p, first_p), Clause(h, passive_h, first_h)
        if lex_rng is not None:
            lexical = lex_rng.random() < lexical_share
            spelling = _spelling(lex_rng, _concepts(p))
            added = [c for c in _concepts(h) if c not in _concepts(p)]
            spelling_h = (spelling & set(_concepts(h))) | _spelling(lex_rng, added)
            if lexical:
                spelling_h ^= set(lex_rng.sample(_concepts(h), lex_rng.choice((1, 2))))
            premise = premise._replace(synonyms=spelling)
            hypothesis = hypothesis._replace(synonyms=frozenset(spelling_h))
        out.append((nli_label(p, h), premise, hypothesis))
    return out


def _rows(pairs, profile, lexicon_seed, names, english_first=None) -> dict[str, list]:
    """Columns for ``pairs`` in ``profile``'s language; where ``english_first[i]``, row i's first
    sentence is in English instead (a cross-lingual pair)."""
    lex, english = _lexicon(profile, lexicon_seed), _lexicon(ENGLISH, lexicon_seed)
    cols = {name: [] for name in ("id", *names, "label")}
    for i, (label, first, second) in enumerate(pairs):
        cols["id"].append(i)
        first_english = english_first is not None and english_first[i]
        cols[names[0]].append(_realise(*first, ENGLISH, english) if first_english else _realise(*first, profile, lex))
        cols[names[1]].append(_realise(*second, profile, lex))
        cols["label"].append(label)
    return cols


def pawsx_rows(profile: LanguageProfile, n: int, seed: int, split: str, *, lexicon_seed: int = 0,
               passive_share: float = 0.5, moved_adverbs: bool = True,
               lexical_share: float = 0.0, lexical_words: int | None = 2,
               crosslingual_share: float = 0.0) -> dict[str, list]:
    """PAWS-X-shaped columns id, sentence1, sentence2, label (0/1), parallel across languages.

    ``crosslingual_share``: the probability that a row's first sentence is in English (the second
    stays in ``profile``'s language), drawn from a stream of its own, so row i keeps its content and
    label whatever the share; 0.0 gives exactly the monolingual rows.
    """
    _check_share(crosslingual_share, "crosslingual_share")
    pairs = pawsx_pairs(n, seed, split, passive_share, moved_adverbs, lexical_share, lexical_words)
    english_first = None
    if crosslingual_share > 0:
        rng = _rng("pawsx.crosslingual", seed, split)
        english_first = [rng.random() < crosslingual_share for _ in pairs]
    return _rows(pairs, profile, lexicon_seed, ("sentence1", "sentence2"), english_first)


def nli_rows(profile: LanguageProfile, n: int, seed: int, split: str, *, lexicon_seed: int = 0,
             passive_share: float = 0.5, lexical_share: float = 0.0) -> dict[str, list]:
    """XNLI-shaped columns id, premise, hypothesis, label (0/1/2), parallel across languages."""
    return _rows(nli_pairs(n, seed, split, passive_share, lexical_share), profile, lexicon_seed,
                 ("premise", "hypothesis"))
