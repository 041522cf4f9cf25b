"""The payoff editor of notebook 01 trains on what is typed into it."""
import torch

from nqmix_core.widgets import PayoffEditor


def test_editing_the_payoff_and_retraining_changes_the_result():
    editor = PayoffEditor([[8, -12, -12], [-12, 0, 0], [-12, 0, 0]], methods=("QMIX",), n_updates=30)
    assert torch.equal(editor.payoff()[0], torch.tensor([8.0, -12.0, -12.0]))
    first = editor.retrain()
    for i in range(3):
        for j in range(3):
            editor.cells[i][j].value = 5.0 if (i, j) == (2, 2) else 0.0
    second = editor.retrain()
    assert editor.payoff()[2, 2] == 5.0 and editor.payoff()[0, 0] == 0.0
    assert first != second and "QMIX" in second
    assert len(editor.output.outputs) > 0  # the figure and the table were shown
