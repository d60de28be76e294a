"""A module of the user's for tests/test_redteam_dec9f.py: a helper that calls a method of what
it is given for its effect."""


def step_it(c, v):
    c.step(v)
