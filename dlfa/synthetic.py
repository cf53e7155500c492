"""Synthetic PAWS-X- and XNLI-shaped corpora in synthetic languages: a positive control.

A small grammar (determiner, adjective, noun, transitive verb, optional time adverb; active and
passive clauses) expresses propositions "agent VERBed patient". Each synthetic language realises
the same propositions with its own word order and a lexicon that spells a fraction of its words as
English does, so a model trained on English should transfer zero-shot in proportion to the shared
lexicon, and only if the word order matches (DESIGN.md, "The synthetic corpus can be a positive
control").

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

Row i is drawn from (task, seed, split) alone, so it means the same thing in every language. A
language's lexicon depends on its code and ``lexicon_seed`` (default 0), not on the row seed, so a
language stays the same across a study's seeds and splits.
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

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
WORDS = tuple(sorted({*NOUNS, *ADJECTIVES, *ADVERBS, *DETERMINERS, AUX, AGENT_MARKER,
                      *(form for forms in VERBS.values() for form in forms)}))
_LEMMAS = tuple(VERBS)

PAWSX_NEGATIVE_SHARE = 0.55  # PAWS-X is about 55/45 (0/1)
ADJ_MOVE_SHARE = 0.2  # of negatives whose proposition has exactly one adjective


@dataclass(frozen=True)
class LanguageProfile:
    """How a synthetic language realises a proposition (see the module docstring)."""

    code: str
    order: str = "SVO"
    adj_before_noun: bool = True
    adposition_before_noun: bool = True  # position of the agent marker in passives
    shared_fraction: float = 1.0  # share of words spelled as in English

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


@lru_cache(maxsize=None)
def _pseudo_words(code: str, seed: int) -> dict[str, str]:
    """A pseudo-word for every English word, independent of shared_fraction (so sharing nests)."""
    rng = random.Random(f"dlfa.synthetic.pseudo|{code}|{seed}")
    # Each language gets its own sound inventory, so languages look unlike each other.
    cons, vowels = rng.sample(_CONSONANTS, 10), rng.sample(_VOWELS, 4)
    used, out = set(WORDS), {}
    for word in WORDS:
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
    draws, pseudo = _share_draws(profile.code, seed), _pseudo_words(profile.code, seed)
    return {w: w if draws[w] < profile.shared_fraction else pseudo[w] for w in WORDS}


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


def pawsx_label(p1: Proposition, p2: Proposition) -> int:
    """1 iff the two sentences say the same thing."""
    return int(p1 == p2)


def nli_label(premise: Proposition, hypothesis: Proposition) -> int:
    """0 entailment, 1 neutral, 2 contradiction, for propositions about one event."""
    if (hypothesis.agent[2], hypothesis.patient[2]) == (premise.patient[2], premise.agent[2]):
        return CONTRADICTION
    return ENTAILMENT if _modifiers(hypothesis) <= _modifiers(premise) else NEUTRAL


# ------------------------------------------------------------------------------------ realisation


def realise(p: Proposition, passive: bool, adverb_first: bool, profile: LanguageProfile,
            lexicon_seed: int = 0) -> str:
    """The sentence for ``p`` in ``profile``'s language: lowercase tokens, ending with " ."."""
    return _realise(p, passive, adverb_first, profile, _lexicon(profile, lexicon_seed))


def _realise(p, passive, adverb_first, profile, lex) -> str:
    def phrase(np):
        det, adj, noun = np
        if adj is None:
            return [det, noun]
        return [det, adj, noun] if profile.adj_before_noun else [det, noun, adj]

    past, participle = VERBS[p.verb]
    if passive:
        agent = phrase(p.agent)
        by = [AGENT_MARKER, *agent] if profile.adposition_before_noun else [*agent, AGENT_MARKER]
        roles = {"S": phrase(p.patient), "V": [AUX, participle], "O": by}
    else:
        roles = {"S": phrase(p.agent), "V": [past], "O": phrase(p.patient)}
    tokens = [t for role in profile.order for t in roles[role]]
    if p.adverb is not None:
        tokens = [p.adverb, *tokens] if adverb_first else [*tokens, p.adverb]
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


def pawsx_pairs(n: int, seed: int, split: str) -> list:
    """Rows as (label, (p1, passive1, adverb_first1), (p2, passive2, adverb_first2))."""
    n, rng, out = _check(n, split), _rng("pawsx", seed, split), []
    for _ in range(n):
        # The surface pattern is drawn before, and independently of, the label.
        passive1, passive2 = rng.random() < 0.5, rng.random() < 0.5
        same_voice = passive1 == passive2
        first1 = rng.random() < 0.5
        first2 = (not first1) if same_voice else rng.random() < 0.5  # same voice: adverb moves
        p1 = _sample_proposition(rng, adverb=same_voice or rng.random() < 0.5)
        if rng.random() >= PAWSX_NEGATIVE_SHARE:
            p2 = p1
        elif (p1.agent[1] is None) != (p1.patient[1] is None) and rng.random() < ADJ_MOVE_SHARE:
            p2 = _move_adjective(p1)
        else:
            p2 = _swap(p1)
        out.append((pawsx_label(p1, p2), (p1, passive1, first1), (p2, passive2, first2)))
    return out


def nli_pairs(n: int, seed: int, split: str) -> list:
    """Rows as (label, (premise, passive, adverb_first), (hypothesis, passive, adverb_first))."""
    n, rng, out = _check(n, split), _rng("nli", seed, split), []
    for _ in range(n):
        target = rng.randrange(3)
        p = _sample_proposition(rng, adverb=rng.random() < 0.5)
        passive_p, first_p = rng.random() < 0.5, rng.random() < 0.5
        passive_h, first_h = rng.random() < 0.5, rng.random() < 0.5
        if target == ENTAILMENT:
            h = _drop_modifier(rng, p) if rng.random() < 0.6 else p
        elif target == NEUTRAL:
            h, p = _add_modifier(rng, p)
        else:
            h = _swap(p)
            h = _drop_modifier(rng, h) if rng.random() < 0.3 else h
        if h == p and passive_h == passive_p and (p.adverb is None or first_h == first_p):
            passive_h = not passive_p  # never an identical pair
        out.append((nli_label(p, h), (p, passive_p, first_p), (h, passive_h, first_h)))
    return out


def _rows(pairs, profile, lexicon_seed, names) -> dict[str, list]:
    lex = _lexicon(profile, lexicon_seed)
    cols = {name: [] for name in ("id", *names, "label")}
    for i, (label, first, second) in enumerate(pairs):
        cols["id"].append(i)
        cols[names[0]].append(_realise(*first, profile, lex))
        cols[names[1]].append(_realise(*second, profile, lex))
        cols["label"].append(label)
    return cols


def pawsx_rows(profile: LanguageProfile, n: int, seed: int, split: str, *,
               lexicon_seed: int = 0) -> dict[str, list]:
    """PAWS-X-shaped columns id, sentence1, sentence2, label (0/1), parallel across languages."""
    return _rows(pawsx_pairs(n, seed, split), profile, lexicon_seed, ("sentence1", "sentence2"))


def nli_rows(profile: LanguageProfile, n: int, seed: int, split: str, *,
             lexicon_seed: int = 0) -> dict[str, list]:
    """XNLI-shaped columns id, premise, hypothesis, label (0/1/2), parallel across languages."""
    return _rows(nli_pairs(n, seed, split), profile, lexicon_seed, ("premise", "hypothesis"))
