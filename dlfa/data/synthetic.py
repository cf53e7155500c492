"""Synthetic PAWS-X- and XNLI-shaped corpora in synthetic languages: a positive control.

A small grammar (determiner, adjective, noun, transitive verb, optional time adverb; active and
passive clauses) expresses propositions "agent VERBed patient". Each synthetic language realises
the same propositions with its own word order and a lexicon that spells a fraction of its words as
English does (``dlfa.data.lexicon``), so a model trained on English should transfer zero-shot in proportion to the shared
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

import operator
import random
from typing import NamedTuple

from dlfa.data.lexicon import (ADJECTIVES, ADVERBS, AGENT_MARKER, AUX, DETERMINERS, ENGLISH, NOUNS, SYNONYMS,
                               VERB_LEMMAS, VERB_SYNONYMS, VERBS, LanguageProfile, cached_lexicon)

SPLITS = ("train", "validation", "test")
ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2
PAWSX_NEGATIVE_SHARE = 0.55  # PAWS-X is about 55/45 (0/1)
ADJ_MOVE_SHARE = 0.2  # of negatives whose proposition has exactly one adjective
SYNONYM_SPELLING_SHARE = 0.5  # with lexical_share > 0: chance that a concept is spelled as its synonym


NP = tuple[str, "str | None", str]  # (det, adjective or None, noun)


class Proposition(NamedTuple):
    agent: NP
    verb: str  # lemma
    patient: NP
    adverb: str | None = None


def sample_proposition(rng: random.Random, adverb: bool) -> Proposition:
    agent, patient = rng.sample(NOUNS, 2)  # distinct nouns, so a swap always changes the meaning
    adj_a, adj_p = rng.sample(ADJECTIVES, 2)
    return Proposition(
        (rng.choice(DETERMINERS), adj_a if rng.random() < 0.5 else None, agent),
        rng.choice(VERB_LEMMAS),
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
    for words in (NOUNS, ADJECTIVES, VERB_LEMMAS, ADVERBS):
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
    return _realise(p, passive, adverb_first, synonyms, profile, cached_lexicon(profile, lexicon_seed))


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
        p1 = sample_proposition(rng, adverb=same_voice or rng.random() < 0.5)
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
        p = sample_proposition(rng, adverb=rng.random() < 0.5)
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
    lex, english = cached_lexicon(profile, lexicon_seed), cached_lexicon(ENGLISH, lexicon_seed)
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
