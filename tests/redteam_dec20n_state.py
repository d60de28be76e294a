"""Module state read by generators in tests/test_redteam_dec20n.py (a user's config module)."""
SCALE = 1.0
FACTORS = [1.0]


def set_scale(v):
    global SCALE
    SCALE = v


def set_factor(v):
    FACTORS[0] = v
