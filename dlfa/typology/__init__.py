"""The typology stage's library: distances between languages from lang2vec or URIEL+ (``distances``)
and the choice of intermediate languages from them (``language_choice``)."""
