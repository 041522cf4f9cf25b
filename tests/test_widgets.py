"""The payoff editor of notebook 01 trains on what is typed into it, until the fit converges, and says so."""
import pytest
import torch

from nqmix_core.teaching.matrix_fit import fit_has_converged
from nqmix_core.teaching.matrix_games import MatrixTrainer, marginal_payoffs, train_matrix_game
from nqmix_core.teaching.widgets import PayoffEditor

QTRAN = [[8, -12, -12], [-12, 0, 0], [-12, 0, 0]]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_editing_the_payoff_and_retraining_changes_the_result():
    editor = PayoffEditor(QTRAN, methods=("QMIX",), min_updates=100, max_updates=200)
    assert torch.equal(editor.payoff()[0], torch.tensor([8.0, -12.0, -12.0]))
    first = editor.retrain()
    for i in range(3):
        for j in range(3):
            editor.cells[i][j].value = 5.0 if (i, j) == (2, 2) else 0.0
    second = editor.retrain()
    assert editor.payoff()[2, 2] == 5.0 and editor.payoff()[0, 0] == 0.0
    assert first != second and "QMIX" in second
    assert len(editor.output.outputs) > 0  # the figure and the text were shown


def test_a_payoff_of_plus_minus_100_is_fitted_from_uniform_data_and_reported_converged():
    # A fixed budget of 300 updates left NQMIX's critic at the payoff's mean here (RMSE ≈ 67), and the
    # editor read that as "cannot represent". Now it trains until the fit converges.
    payoff = [[100, -100, -100], [-100, 0, 0], [-100, 0, 0]]
    editor = PayoffEditor(payoff, methods=("NQMIX, uniform data",))
    text = editor.retrain()
    fit = editor.fits["NQMIX, uniform data"]
    assert fit.converged and fit.n_updates <= 3000
    assert fit.run.table_error < 2.0, f"RMSE {fit.run.table_error:.2f} on a ±100 payoff"
    assert "fits the payoff: converged after" in text
    assert "Q_1" in text and "π_2" in text and "payoff, partner uniform" in text  # agent values beside Q_tot
    assert torch.allclose(fit.run.payoff, torch.tensor(payoff, dtype=torch.float32))  # values in the user's units


def test_the_editor_says_when_training_stopped_before_the_fit_converged():
    editor = PayoffEditor(QTRAN, methods=("NQMIX, uniform data",), min_updates=100, max_updates=100)
    text = editor.retrain()
    assert not editor.fits["NQMIX, uniform data"].converged
    assert "NOT converged" in text and "train longer" in text


def test_a_bad_payoff_or_no_method_gives_one_sentence_not_a_traceback():
    editor = PayoffEditor(QTRAN, methods=("QMIX",), max_updates=100)
    editor.cells[1][1].value = float("nan")
    assert "finite" in editor.retrain()
    editor.methods.value = ()
    assert "select at least one" in editor.retrain()
    assert not editor.button.disabled


def test_convergence_rule():
    assert not fit_has_converged([7.0, 6.0, 6.0], patience=3)  # too short to tell
    assert not fit_has_converged([7.0, 6.0, 3.0, 1.0], patience=3)  # still improving
    assert fit_has_converged([7.0, 6.0, 5.9, 5.95, 6.0], patience=3, rel_tol=0.05)  # a plateau
    assert fit_has_converged([0.05, 0.01, 0.02, 0.03, 0.0], patience=3, abs_tol=0.1)  # noise below abs_tol
    assert not fit_has_converged([0.05, 0.01, 0.02, 0.03, 0.0], patience=3, abs_tol=0.0)


def test_training_in_chunks_equals_training_at_once_and_reading_out_changes_nothing():
    whole = train_matrix_game("nqmix", QTRAN, seed=1, n_updates=20, uniform_data=False)
    trainer = MatrixTrainer("nqmix", QTRAN, seed=1, uniform_data=False)
    for _ in range(4):
        trainer.train(5)
        trainer.run()  # its greedy rollout must not disturb the random stream
    chunked = trainer.run()
    assert torch.equal(whole.q_tot, chunked.q_tot) and torch.equal(whole.policy, chunked.policy)


def test_a_reward_scale_changes_the_units_of_training_not_of_the_results():
    trainer = MatrixTrainer("vdn", QTRAN, seed=0, reward_scale=0.5)
    assert trainer.env.payoff.abs().max() == 6.0  # the learner sees the payoff halved ...
    run = trainer.run()
    assert torch.equal(run.payoff, torch.tensor(QTRAN, dtype=torch.float32))  # ... results are in its units
    assert torch.allclose(run.q_tot, run.agent_qs[0][:, None] + run.agent_qs[1][None, :], atol=1e-5)  # VDN


def test_marginal_payoffs_average_over_the_partner():
    marginal = marginal_payoffs(torch.tensor(QTRAN, dtype=torch.float32))
    assert torch.allclose(marginal, torch.tensor([[-16 / 3, -4.0, -4.0]] * 2))
