"""The study's stages as functions: each takes the params and the study's layout, writes that
stage's products and returns what it computed. The notebooks call them and show the results."""
