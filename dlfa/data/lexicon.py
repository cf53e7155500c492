"""The synthetic languages' words: an English grammar's vocabulary with a synonym for every content
word, and each language's profile (word order, adjective and adposition placement, the share of
words spelled as English does) and lexicon (pseudo-words for the rest, or planted cognates shared
between close languages). ``dlfa.data.synthetic`` builds sentences from them.

The random streams are named by fixed strings (``dlfa.synthetic.pseudo|...``), not by this module's
path, so the languages stay the same wherever the code lives.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from functools import lru_cache

ORDERS = ("SVO", "SOV", "VSO", "VOS", "OVS", "OSV")

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
VERB_LEMMAS = tuple(VERBS)



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
def cached_lexicon(profile: LanguageProfile, seed: int) -> dict[str, str]:
    """``lexicon``'s dict itself, cached: read it, never change it."""
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
    return dict(cached_lexicon(profile, seed))


# ----------------------------------------------------------------------------------- propositions
