"""The README's code runs as written: its first example and its training loop."""
import os
import re
import runpy

import numpy as np

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def _block_after(heading: str) -> str:
    text = open(README, encoding="utf-8").read()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_training_loop_runs_as_written(tmp_path, capsys):
    code = _block_after("## A custom training loop")
    assert "def model_loss" in code and "params = {" in code and "x = " in code
    path = tmp_path / "readme_training_loop.py"     # sct reads source: run it from a file
    path.write_text(code)
    namespace = runpy.run_path(str(path))
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == [f"iteration {i}" for i in (50, 100, 150, 200)]
    losses = [float(line.split("loss ")[1]) for line in printed]
    assert re.fullmatch(r"iteration 50: loss \d+\.\d{4}", printed[0])
    assert losses[-1] < losses[0] and losses[-1] < 0.1
    loss, gradients = namespace["dlfeval"](namespace["model_loss"], namespace["params"],
                                           namespace["x"], namespace["t"])
    assert abs(float(loss) - losses[-1]) < 0.05 and set(gradients) == {"w1", "b1", "w2", "b2"}


def test_the_first_example_runs_as_written(tmp_path):
    text = open(README, encoding="utf-8").read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert "lambda t: dlgradient(sct.relu(t), t)" in code
    path = tmp_path / "readme_first.py"
    path.write_text(code)
    namespace = runpy.run_path(str(path))
    assert float(namespace["fval"]) == 104
    assert np.asarray(namespace["gradval"].data).tolist() == [396, 200]
    assert float(namespace["slope"]) == 1.0
