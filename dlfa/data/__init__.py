"""The data stage's library: corpora read from the hub, local files or the synthetic languages
(``corpora``, ``synthetic``, ``lexicon``), and their tokenized, cached form (``tokenization``)."""
