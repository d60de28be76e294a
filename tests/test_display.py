"""How dlarrays print: formatted numbers, compact tuples, aligned notebook tables."""
import re

import numpy as np

import sct
from sct import dlarray


def test_format_spec_of_a_scalar_dlarray():
    loss = dlarray(0.123456)
    assert f"{loss:.4f}" == "0.1235"
    assert "%g" % loss == "0.123456"
    assert f"{loss}" == str(loss)


def test_format_spec_of_a_vector_formats_each_value():
    assert f"{dlarray([1.0, 2.5]):.2f}" == "[1.00 2.50]"


def test_tuple_of_dlarrays_prints_on_one_line():
    text = repr((dlarray(104.0), dlarray([396.0, 200.0])))
    assert "\n" not in text
    assert text == "(1x1 dlarray  104, 1x2 dlarray  396  200)"


def test_matrix_html_is_a_table_with_one_row_per_matrix_row():
    html = dlarray(np.array([[1.5, -20.25], [3.0, 4.0]]))._repr_html_()
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    assert len(rows) == 2
    cells = [re.findall(r">([^<]*)</td>", r) for r in rows]
    assert cells == [["1.5000", "-20.2500"], ["3.0000", "4.0000"]]
    assert "2x2 dlarray" in html and "monospace" in html


def test_version_and_typed_marker():
    import importlib.resources
    assert re.fullmatch(r"\d+\.\d+\.\d+", sct.__version__)
    assert importlib.resources.files("sct").joinpath("py.typed").is_file()
