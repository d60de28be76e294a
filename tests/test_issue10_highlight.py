"""Generated source shown highlighted without pygments (issue 10, notebooks and display)."""
import builtins
import html
import re

import numpy as np
import pytest

import sct
from sct import dlarray, dlgradient
from sct.api import GeneratedSource, highlight_html


def loss(x):
    y = np.sum(np.sin(x) ** 2)  # a comment
    return y, dlgradient(y, x)


def _spans(markup, style_word):
    return [html.unescape(m) for m in re.findall(r'<span style="[^"]*%s[^"]*">(.*?)</span>' % style_word, markup)]


def _plain(markup):
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_highlight_marks_keywords_comments_strings_numbers():
    text = 'def f(x):\n    # note <b>\n    s = "a<b" + \'c\'\n    return x if x > 2.5 else None\n'
    out = highlight_html(text)
    assert out.startswith('<div class="sct-source"') and "font-family: monospace" in out
    assert _plain(out) == text                       # every character kept, in order, escaped
    assert "<b>" not in out
    assert "&lt;b&gt;" in out                        # markup in comments and strings is escaped
    bold = _spans(out, "font-weight: bold")
    assert bold == ["def", "return", "if", "else", "None"]
    assert _spans(out, "italic") == ["# note <b>"]
    assert _spans(out, "#ba2121") == ['"a<b"', "'c'"]
    assert _spans(out, "#666666") == ["2.5"]
    assert _spans(out, "#0000ff") == ["f"]           # the defined name


def test_attribute_named_like_a_builtin_is_not_a_builtin():
    out = highlight_html("y = np.sum(len(x))\n")
    builtins_marked = re.findall(r'<span style="color: #008000">(.*?)</span>', out)
    assert builtins_marked == ["len"]


def test_untokenizable_text_is_kept_as_plain_text():
    text = 'x = """never closed\n'
    out = highlight_html(text)
    assert _plain(out) == text


def test_generated_source_without_pygments_is_highlighted(monkeypatch):
    real_import = builtins.__import__

    def no_pygments(name, *args, **kwargs):
        if name == "pygments" or name.startswith("pygments."):
            raise ImportError("no pygments here")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_pygments)
    src = sct.source(loss, dlarray(np.array([0.5, -1.0])))
    assert isinstance(src, GeneratedSource)
    out = src._repr_html_()
    assert "font-family: monospace" in out and "<span" in out
    assert _plain(out) == str(src)
    assert "def" in _spans(out, "font-weight: bold") and "return" in _spans(out, "font-weight: bold")
    assert any(c.startswith("# line") for c in _spans(out, "italic"))   # the source-line comments


def test_generated_source_with_pygments_if_installed():
    pytest.importorskip("pygments")
    src = sct.source(loss, dlarray(np.array([0.5, -1.0])))
    out = src._repr_html_()
    assert "<span" in out and "def" in _plain(out)
