"""Mixers: sizes from App. B, monotonicity (Eq. 1) and its absence, the sign of ∂Q_tot/∂Q_a."""
import math

import pytest
import torch

from nqmix_core.losses import mixer_gradient_sign
from nqmix_core.networks import count_parameters, make_mixer, nqmix_hidden_units
from nqmix_core.networks.mixers import mixer_parameter_counts

# SMAX state size is 12·(allies + enemies); (A, enemies) for 3m, 5m_vs_6m, 8m.
SMAX_MAPS = {3: 3, 5: 6, 8: 8}


def smax_state_dim(n_agents: int) -> int:
    return 12 * (n_agents + SMAX_MAPS[n_agents])


@pytest.mark.parametrize("n_agents, width", [(2, 190), (3, 221), (5, 283), (8, 376)])
def test_nqmix_hidden_width_is_32_times_a_plus_4_minus_a(n_agents, width):
    assert nqmix_hidden_units(n_agents) == width
    mixer = make_mixer("nqmix", n_agents, state_dim=10)
    assert mixer.hidden.out_features == width and mixer.out.out_features == 1


@pytest.mark.parametrize("n_agents", [3, 5, 8])
def test_parameter_counts_match_hand_formulas_and_record_ratio(n_agents, record_property):
    s, a = smax_state_dim(n_agents), n_agents
    h = 32 * (a + 4) - a
    nqmix_expected = (a + s) * h + h + h + 1
    # pymarl's QMIX: two-layer hypernetworks (hidden 64) for W1 and W_final, linear b1, V(s) = Linear-ReLU-Linear.
    e, k = 32, 64
    qmix_expected = (s * k + k + k * a * e + a * e) + (s * k + k + k * e + e) + (s * e + e) + (s * e + e + e + 1)
    nqmix_count = count_parameters(make_mixer("nqmix", a, s))
    qmix_count = count_parameters(make_mixer("qmix", a, s))
    assert nqmix_count == nqmix_expected
    assert qmix_count == qmix_expected
    assert count_parameters(make_mixer("qmix-no-abs", a, s)) == qmix_count
    ratio = nqmix_count / qmix_count
    record_property("nqmix_over_qmix_params", round(ratio, 3))
    print(f"A={a} S={s}: NQMIX mixer {nqmix_count}, QMIX mixer {qmix_count}, ratio {ratio:.3f}")
    # The paper calls them "similar". Measured: 0.761 (3m), 1.034 (5m_vs_6m), 1.361 (8m): the MLP
    # grows as (A+S)·32·(A+4), the hypernetworks as S·64 + 64·32·A, so NQMIX's overtakes QMIX's with A.
    assert 0.5 < ratio < 2.0


def random_inputs(n_agents=3, state_dim=6, batch=(64, 5), scale=5.0):
    g = torch.Generator().manual_seed(0)
    qs = torch.randn(*batch, n_agents, generator=g) * scale
    state = torch.randn(*batch, state_dim, generator=g)
    return qs, state


def test_qmix_is_monotonic_in_every_agent_value():
    torch.manual_seed(1)
    mixer = make_mixer("qmix", 3, 6)
    qs, state = random_inputs()
    qs.requires_grad_(True)
    (grad,) = torch.autograd.grad(mixer(qs, state).sum(), qs)
    assert (grad >= 0).all()
    assert (grad > 0).float().mean() > 0.99


@pytest.mark.parametrize("name", ["nqmix", "qmix-no-abs"])
def test_non_monotonic_mixers_have_negative_partial_derivatives(name):
    torch.manual_seed(1)
    mixer = make_mixer(name, 3, 6)
    qs, state = random_inputs()
    sign = mixer_gradient_sign(mixer, qs, state)
    assert (sign < 0).any() and (sign > 0).any()


def test_vdn_sums_and_ignores_state():
    qs, state = random_inputs()
    mixer = make_mixer("vdn", 3, 6)
    assert torch.equal(mixer(qs, state), qs.sum(-1))
    assert (mixer_gradient_sign(mixer, qs, state) == 1).all()


def hand_mixer(qs, state):
    """Q_tot = q1·q2 − q2 + s0·q1 + q3³; ∂/∂q1 = q2 + s0, ∂/∂q2 = q1 − 1, ∂/∂q3 = 3·q3²."""
    q1, q2, q3 = qs.unbind(-1)
    return q1 * q2 - q2 + state[..., 0] * q1 + q3 ** 3


def test_sign_matches_hand_derivative():
    qs, state = random_inputs(n_agents=3, state_dim=2, scale=2.0)
    q1, q2, q3 = qs.unbind(-1)
    hand = torch.stack([q2 + state[..., 0], q1 - 1, 3 * q3 ** 2], dim=-1)
    sign = mixer_gradient_sign(hand_mixer, qs, state)
    assert torch.equal(sign, torch.sign(hand))
    assert (sign[..., 0] < 0).any() and (sign[..., 1] < 0).any()


def test_sign_gives_no_gradient_to_mixer_or_inputs():
    torch.manual_seed(0)
    mixer = make_mixer("nqmix", 3, 6)
    qs, state = random_inputs()
    qs.requires_grad_(True)
    sign = mixer_gradient_sign(mixer, qs, state)
    assert not sign.requires_grad
    assert all(p.grad is None for p in mixer.parameters())
    assert qs.grad is None


def set_weights(mixer, weights: dict[str, list]) -> None:
    """Every parameter 0, then the named weight matrices as given (biases stay 0)."""
    with torch.no_grad():
        for p in mixer.parameters():
            p.zero_()
        for name, value in weights.items():
            mixer.get_parameter(name).copy_(torch.tensor(value))


QMIX_WEIGHTS = {  # state s = [1]; every first hypernetwork layer passes it on as 1, so (row-major [N, E])
    "hyper_w1.0.weight": [[1.0]], "hyper_w1.2.weight": [[-2.0], [1.0], [3.0], [-1.0]],  # W1 = [[-2, 1], [3, -1]]
    "hyper_w_final.0.weight": [[1.0]], "hyper_w_final.2.weight": [[-1.5], [2.0]],        # W_final = [-1.5, 2]
    "hyper_b1.weight": [[0.5], [-1.0]],                                                   # b1 = [0.5, -1]
    "hyper_v.0.weight": [[1.0], [0.0]], "hyper_v.2.weight": [[0.25, 0.0]],                # V(s) = 0.25
}


@pytest.mark.parametrize("name, qs, want", [
    # QMIX: elu(Q·|W1| + b1)·|W_final| + V. At Q = (1, 1): elu([5.5, 1])·[1.5, 2] + 0.25 = 10.5
    ("qmix", [1.0, 1.0], 10.5),
    # at Q = (0.5, −1): both hidden units at −1.5, elu = e^−1.5 − 1, times 1.5 + 2, plus 0.25
    ("qmix", [0.5, -1.0], (math.exp(-1.5) - 1) * 3.5 + 0.25),
    # NQMIX-M keeps the signs: elu([1.5, −1])·[−1.5, 2] + 0.25
    ("qmix-no-abs", [1.0, 1.0], -1.5 * 1.5 + 2 * (math.exp(-1.0) - 1) + 0.25),
])
def test_the_hypernetwork_mixer_by_hand(name, qs, want):
    mixer = make_mixer(name, n_agents=2, state_dim=1, embed_dim=2, hypernet_hidden_dim=1)
    set_weights(mixer, QMIX_WEIGHTS)
    q_tot = mixer(torch.tensor([qs, qs, qs]).view(3, 1, 2), torch.ones(3, 1, 1))  # [B=3, T=1]: one value, 3 times
    assert q_tot.shape == (3, 1) and q_tot.flatten().tolist() == pytest.approx([want] * 3)


def test_the_nqmix_mixer_by_hand():
    """Q_tot = w_out · elu(W [Q_1, Q_2, s] + b) + b_out, two hidden units used (the others are elu(0) = 0)."""
    mixer = make_mixer("nqmix", n_agents=2, state_dim=1)
    set_weights(mixer, {})
    with torch.no_grad():
        mixer.hidden.weight[0] = torch.tensor([1.0, -2.0, 0.5])  # h0 = Q_1 − 2·Q_2 + s/2
        mixer.hidden.weight[1, 1], mixer.hidden.bias[1] = 1.0, 1.0  # h1 = Q_2 + 1
        mixer.out.weight[0, :2], mixer.out.bias[0] = torch.tensor([2.0, -1.0]), 0.1
    q_tot = mixer(torch.ones(4, 3, 2), torch.ones(4, 3, 1))  # h0 = −0.5, h1 = 2
    assert q_tot.shape == (4, 3)
    assert q_tot.flatten().tolist() == pytest.approx([2 * (math.exp(-0.5) - 1) - 2 + 0.1] * 12)


def test_the_one_layer_qmix_count_and_the_ratios_by_hand():
    """C6's figures for 3m (A = 3, S = 72, E = 32): the QMIX paper's one-layer hypernetworks."""
    a, s, e = 3, 72, 32
    w1, b1, w_final, v = s * a * e + a * e, s * e + e, s * e + e, (s * e + e) + (e + 1)
    assert w1 + b1 + w_final + v == 14049
    counts = mixer_parameter_counts(a, s)
    assert counts["qmix_one_layer"] == 14049
    assert counts["ratio_one_layer"] == counts["nqmix"] / 14049
    assert counts["ratio"] == counts["nqmix"] / counts["qmix"] and counts["nqmix_hidden"] == 221
