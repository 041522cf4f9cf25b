"""Figure 1 is drawn from the learner's real modules: its labels are their class names and shapes."""
import dataclasses

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from nqmix_core.teaching.architecture_figure import capture_calls, draw_architecture, format_shapes, layout  # noqa: E402
from nqmix_core.registry import algo_config  # noqa: E402
from nqmix_core.plotting import NOTEBOOK_WIDTH_INCHES, smallest_text_points  # noqa: E402
from nqmix_core.registry import make_learner  # noqa: E402
from tests.helpers import INFO, random_batch  # noqa: E402

LENGTHS = (6, 4, 2)  # B = 3 episodes, T = 6 steps


def figure_texts(fig) -> str:
    return "\n".join(text.get_text() for ax in fig.axes for text in ax.texts)


@pytest.fixture
def calls():
    learner = make_learner(algo_config("nqmix", rnn_hidden_dim=64), INFO, "cpu")
    return capture_calls(learner, random_batch(LENGTHS))


def test_capture_records_every_network_and_layer_with_its_real_shapes(calls):
    b, t, n, u, s = len(LENGTHS), max(LENGTHS), INFO.n_agents, INFO.n_actions, INFO.state_dim
    d = INFO.obs_dim + u + n  # observation, last action, agent id
    assert set(calls) == {"agent", "agent.fc_in", "agent.gru", "agent.fc_out", "actors", "actors.fc1",
                          "actors.fc2", "mixer", "mixer.hidden", "mixer.out"}
    assert calls["agent"].class_name == "AgentNetwork"
    assert calls["agent"].inputs == ((b, t + 1, n, d),)
    assert calls["agent"].outputs == ((b, t + 1, n, u), (b, t + 1, n, 64))
    assert calls["agent.gru"].class_name == "GRU" and calls["agent.gru"].inputs == ((b * n, t + 1, 64),)
    assert calls["actors"].class_name == "Actors" and calls["actors.fc1"].class_name == "BatchedLinear"
    assert calls["actors"].inputs == ((b, t, n, 64), (b, t, n, u)) and calls["actors"].outputs == ((b, t, n, u),)
    assert calls["mixer"].class_name == "NQMIXMixer"
    assert calls["mixer"].inputs == ((b, t, n), (b, t, s)) and calls["mixer"].outputs == ((b, t),)
    assert calls["agent"].label == (f"AgentNetwork  [{b}, {t + 1}, {n}, {d}] → "
                                    f"[{b}, {t + 1}, {n}, {u}], [{b}, {t + 1}, {n}, 64]")


def test_layers_run_in_order_and_the_actors_sit_under_the_gru(calls):
    positions = layout(calls)
    assert [positions[p][0] for p in ("agent.fc_in", "agent.gru", "agent.fc_out")] == [0, 1, 2]
    assert positions["actors.fc1"][0] == positions["agent.gru"][0]  # the actors read the GRU state
    assert positions["mixer.hidden"][0] == positions["agent.fc_out"][0]  # the mixer reads the chosen Q_a
    assert positions["mixer.hidden"][1] > positions["agent.gru"][1] > positions["actors.fc1"][1]


def test_the_drawn_labels_are_the_recorded_names_and_shapes(calls):
    fig = draw_architecture(calls)
    texts = figure_texts(fig)
    plt.close(fig)
    for call in calls.values():
        assert call.class_name in texts
        assert all(format_shapes((shape,)) in texts for shape in call.inputs + call.outputs)


WIDE_INFO = dataclasses.replace(INFO, state_dim=11)  # so that no two sizes below share a value
DISTINCT_LENGTHS = (6, 4, 2, 3, 1)  # B = 5; every batch holds T = episode_limit = 6 steps
SIZES = {"B": len(DISTINCT_LENGTHS), "T+1": WIDE_INFO.episode_limit + 1, "T": WIDE_INFO.episode_limit,
         "N": WIDE_INFO.n_agents, "D": WIDE_INFO.obs_dim + WIDE_INFO.n_actions + WIDE_INFO.n_agents, "H": 64,
         "U": WIDE_INFO.n_actions, "S": WIDE_INFO.state_dim, "B·N": len(DISTINCT_LENGTHS) * WIDE_INFO.n_agents}


def test_with_sizes_the_shapes_are_symbols_and_the_actor_path_ends_in_its_objective():
    assert len(set(SIZES.values())) == len(SIZES)
    learner = make_learner(algo_config("nqmix", rnn_hidden_dim=64), WIDE_INFO, "cpu")
    calls = capture_calls(learner, random_batch(DISTINCT_LENGTHS, WIDE_INFO))
    fig = draw_architecture(calls, SIZES)
    texts = figure_texts(fig)
    plt.close(fig)
    for symbolic in ("[B, T+1, N, D]", "[B·N, T+1, H]", "[B, T, N, H]", "[B, T, N, U]", "[B, T, N]", "[B, T]"):
        assert symbolic in texts
    assert format_shapes(calls["agent"].inputs) not in texts  # the numbers are in the key only
    assert "B = 5" in texts and "actor objective" in texts and "(Eq. 13)" in texts
    assert "sgn" in texts and "(autograd)" in texts  # the sign of ∂Q_tot/∂Q_a reaches the objective


def test_the_symbols_are_the_first_match_and_unknown_sizes_stay_numbers():
    assert format_shapes(((16, 72, 5, 7),), {"B": 16, "T+1": 72, "N": 5, "M": 16}) == "[B, T+1, N, 7]"


def test_the_figure_fits_a_notebook_and_its_text_is_readable(calls):
    fig = draw_architecture(calls, {"B": 3, "N": INFO.n_agents})
    assert fig.get_figwidth() <= NOTEBOOK_WIDTH_INCHES and smallest_text_points(fig) >= 9
    plt.close(fig)


def test_changing_the_hidden_size_changes_the_drawn_shapes():
    batch = random_batch(LENGTHS)
    texts = {}
    for hidden in (64, 24):
        learner = make_learner(algo_config("nqmix", rnn_hidden_dim=hidden), INFO, "cpu")
        fig = draw_architecture(capture_calls(learner, batch))
        texts[hidden] = figure_texts(fig)
        plt.close(fig)
    gru_output = f"[{len(LENGTHS) * INFO.n_agents}, {max(LENGTHS) + 1}, 24]"  # [B·N, T+1, H]
    assert gru_output in texts[24] and gru_output not in texts[64]
    assert texts[24] != texts[64]


def test_hooks_are_removed_after_the_capture():
    learner = make_learner("nqmix", INFO, "cpu")
    capture_calls(learner, random_batch(LENGTHS))
    assert not any(module._forward_hooks for module in learner.modules())
