"""Pins the exact small-problem math of ``nqmix_core.teaching.theory`` (Eqs. 2, 3, 7, 9, 10, 13, 14).

Every check compares two independent computations (a linear solve against an iteration, autograd
against a closed form or finite differences), so a wrong formula fails.
"""
import pytest
import torch

from nqmix_core.teaching import theory as th

D = torch.float64


@pytest.fixture
def tabular():
    """A random 5-state, 3-action MDP with γ = 0.8 and a random softmax policy."""
    mdp = th.random_mdp(n_states=5, n_actions=3, gamma=0.8, seed=3)
    gen = torch.Generator().manual_seed(7)
    theta = torch.randn(5, 3, generator=gen, dtype=D)
    theta_b = 2.0 * torch.randn(5, 3, generator=gen, dtype=D)
    return mdp, theta, theta_b


def test_random_mdp_is_a_valid_mdp():
    mdp = th.random_mdp(seed=1)
    assert torch.allclose(mdp.transitions.sum(-1), torch.ones(5, 3, dtype=D))
    assert (mdp.transitions >= 0).all() and mdp.start.sum() == 1.0
    assert torch.equal(th.random_mdp(seed=1).rewards, mdp.rewards)  # the seed fixes everything
    assert mdp.start.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]  # S_0 = 0, as the docstring says


def test_sample_categorical_reaches_every_category_including_the_last():
    gen = torch.Generator().manual_seed(0)
    certain = torch.eye(3, dtype=D)  # row k puts all its mass on k
    assert th.tabular.sample_categorical(certain, gen).tolist() == [0, 1, 2]
    assert th.tabular.sample_categorical(certain[2:], gen).tolist() == [2]  # one row: the last of its 3 categories
    short = th.tabular.sample_categorical(torch.tensor([[0.5, 0.25]], dtype=D).expand(400, -1), gen)
    assert short.max().item() == 1  # a sum that rounding left below 1 still gives a valid index
    draws = th.tabular.sample_categorical(torch.tensor([[0.25, 0.75]], dtype=D).expand(4000, -1), gen)
    assert abs(draws.float().mean().item() - 0.75) < 0.03  # sd of the mean: 0.0068


def test_sampled_trajectories_start_at_s0_and_last_the_horizon(tabular):
    mdp, theta, _ = tabular
    states = th.tabular.sample_trajectories(mdp, th.softmax_policy(theta), 6, 4, torch.Generator().manual_seed(0))
    assert states.shape == (6, 4) and states[:, 0].tolist() == [0] * 6


@pytest.mark.parametrize("gamma, tolerance, horizon", [(0.5, 0.01, 8), (0.9, 1e-3, 88), (0.8, 1e-12, 132)])
def test_truncation_horizon_is_the_first_whose_tail_is_below_the_tolerance(gamma, tolerance, horizon):
    # γ^H / (1 − γ) < tolerance ≤ γ^(H−1) / (1 − γ); e.g. 0.5: H = 8 leaves 0.0078, H = 7 would leave 0.0156
    assert th.tabular.truncation_horizon(gamma, tolerance) == horizon
    assert gamma ** horizon / (1 - gamma) < tolerance <= gamma ** (horizon - 1) / (1 - gamma)


def test_bellman_solution_matches_iterative_policy_evaluation(tabular):
    mdp, theta, _ = tabular
    policy = th.softmax_policy(theta)
    values, q_values = th.value_functions(mdp, policy)
    iterate = torch.zeros(5, dtype=D)
    for _ in range(300):  # V <- Σ_u π(u|s) [R(s,u) + γ Σ_s' P(s'|s,u) V(s')], contraction 0.8
        iterate = (policy * (mdp.rewards + mdp.gamma * mdp.transitions @ iterate)).sum(-1)
    assert torch.allclose(values, iterate, atol=1e-12)
    assert torch.allclose((policy * q_values).sum(-1), values, atol=1e-12)  # V^π = Σ_u π Q^π


def test_visitation_sums_to_effective_horizon_and_matches_power_series(tabular):
    mdp, theta, _ = tabular
    policy = th.softmax_policy(theta)
    visitation = th.discounted_visitation(mdp, policy)
    assert visitation.sum().item() == pytest.approx(1.0 / (1.0 - mdp.gamma), abs=1e-12)
    p_pi, occupancy, series = th.state_transition_matrix(mdp, policy), mdp.start.clone(), torch.zeros(5, dtype=D)
    for t in range(200):  # Σ_t γ^t Pr(S_t = s), Pr(S_{t+1}) = Pr(S_t) P_π
        series += mdp.gamma ** t * occupancy
        occupancy = occupancy @ p_pi
    assert torch.allclose(visitation, series, atol=1e-12)


def test_exact_gradient_matches_finite_differences(tabular):
    mdp, theta, _ = tabular
    grad, eps = th.exact_gradient(mdp, theta), 1e-6
    numeric = torch.zeros_like(theta)
    for index in range(theta.numel()):
        step = torch.zeros(theta.numel(), dtype=D)
        step[index] = eps
        step = step.view_as(theta)
        numeric.view(-1)[index] = (th.objective(mdp, theta + step) - th.objective(mdp, theta - step)) / (2 * eps)
    assert torch.allclose(grad, numeric, atol=1e-8)


def test_eq2_equals_autograd_gradient(tabular):
    mdp, theta, _ = tabular
    policy = th.softmax_policy(theta)
    values, q_values = th.value_functions(mdp, policy)
    visitation = th.discounted_visitation(mdp, policy)
    truth = th.exact_gradient(mdp, theta)
    assert th.relative_error(th.policy_gradient_sum(theta, q_values, visitation), truth) < 1e-10
    closed_form = visitation[:, None] * policy * (q_values - values[:, None])  # softmax: ∂/∂θ_sk = π_k (Q_k − V)
    assert torch.allclose(closed_form, truth, atol=1e-12)
    undiscounted_start = mdp.start / (1.0 - mdp.gamma)  # a wrong weighting must be caught
    assert th.relative_error(th.policy_gradient_sum(theta, q_values, undiscounted_start), truth) > 0.1


def test_eq2_with_shared_features(tabular):
    mdp, _, _ = tabular
    gen = torch.Generator().manual_seed(0)
    features, theta = torch.randn(5, 2, generator=gen, dtype=D), torch.randn(2, 3, generator=gen, dtype=D)
    policy = th.softmax_policy(theta, features)
    _, q_values = th.value_functions(mdp, policy)
    eq2 = th.policy_gradient_sum(theta, q_values, th.discounted_visitation(mdp, policy), features)
    assert th.relative_error(eq2, th.exact_gradient(mdp, theta, features)) < 1e-10


def test_eq3_is_eq2_when_behaviour_is_target_and_biased_otherwise(tabular):
    mdp, theta, theta_b = tabular
    policy = th.softmax_policy(theta)
    _, q_values = th.value_functions(mdp, policy)
    truth = th.exact_gradient(mdp, theta)
    on_policy = th.policy_gradient_sum(theta, q_values, th.discounted_visitation(mdp, policy))
    assert torch.allclose(on_policy, truth, atol=1e-12)
    behaviour = th.softmax_policy(theta_b)
    off_policy = th.policy_gradient_sum(theta, q_values, th.discounted_visitation(mdp, behaviour))
    assert th.relative_error(off_policy, truth) > 1e-2
    assert th.cosine_similarity(off_policy, truth) > 0  # tabular: a positive re-weighting of states


@pytest.mark.parametrize("method", ["trajectory", "geometric"])
def test_visitation_samples_are_unbiased(tabular, method):
    mdp, _, theta_b = tabular
    behaviour = th.softmax_policy(theta_b)
    n_samples = 2_000 if method == "trajectory" else 20_000  # a trajectory sample costs ~H = 131 steps
    samples = th.visitation_samples(mdp, behaviour, n_samples, torch.Generator().manual_seed(1), method)  # [n, S]
    standard_error = samples.std(0) / samples.shape[0] ** 0.5
    deviation = (samples.mean(0) - th.discounted_visitation(mdp, behaviour)).abs()
    assert (deviation < 5 * standard_error).all()


@pytest.mark.parametrize("method", ["trajectory", "geometric"])
def test_sampled_eq7_converges_to_the_gradient(tabular, method):
    mdp, theta, _ = tabular
    policy, truth, gen = th.softmax_policy(theta), th.exact_gradient(mdp, theta), torch.Generator().manual_seed(2)

    def rms_error(n_samples: int) -> float:
        errors = [th.relative_error(th.sampled_policy_gradient(mdp, theta, policy, n_samples, gen, method), truth)
                  for _ in range(4)]
        return torch.stack(errors).pow(2).mean().sqrt().item()

    assert rms_error(4000) < 0.3 * rms_error(40)  # 1/√n predicts 0.1


def test_sampled_off_policy_gradient_converges_to_eq3_not_eq2(tabular):
    mdp, theta, theta_b = tabular
    policy, behaviour = th.softmax_policy(theta), th.softmax_policy(theta_b)
    _, q_values = th.value_functions(mdp, policy)
    eq3 = th.policy_gradient_sum(theta, q_values, th.discounted_visitation(mdp, behaviour))
    estimate = th.sampled_policy_gradient(mdp, theta, behaviour, 20_000, torch.Generator().manual_seed(4), "geometric")
    assert th.relative_error(estimate, eq3) < 0.5 * th.relative_error(estimate, th.exact_gradient(mdp, theta))


def test_bad_sampling_method_is_rejected(tabular):
    mdp, theta, _ = tabular
    with pytest.raises(ValueError, match="method"):
        th.visitation_samples(mdp, th.softmax_policy(theta), 10, torch.Generator(), "uniform")


# --------------------------------------------------------------------------- sign trick


@pytest.fixture
def games():
    gen = torch.Generator().manual_seed(11)
    return torch.randn(300, 2, 3, generator=gen, dtype=D), torch.randn(300, 2, 3, generator=gen, dtype=D)


def _expected_q_gradient(agent_qs, logits):
    """∇_θ Σ_u π(u) Q(u) for a softmax, in closed form: π_k (Q_k − Σ_u π_u Q_u). [..., N, U]."""
    policy = torch.softmax(logits, -1)
    return policy * (agent_qs - (policy * agent_qs).sum(-1, keepdim=True))


def test_sign_trick_is_the_gradient_up_to_a_positive_factor_for_linear_mixers(games):
    agent_qs, logits = games
    weights = torch.tensor([2.0, 3.0], dtype=D)
    linear = lambda qs, state: qs @ weights  # noqa: E731  f = 2 q_1 + 3 q_2, monotone
    exact = th.exact_agent_gradients(linear, agent_qs, logits)
    nqmix = th.sign_trick_directions(linear, agent_qs, logits)
    assert torch.allclose(exact, weights[:, None] * nqmix, atol=1e-12)  # factor 2 for agent 1, 3 for agent 2
    assert torch.allclose(nqmix, _expected_q_gradient(agent_qs, logits), atol=1e-12)


def test_sign_trick_matches_its_closed_form_for_any_mixer(games):
    agent_qs, logits = games
    mixer = th.random_mlp_mixer(2, seed=5)
    _, mean_sign = th.mixer_slope_averages(mixer, agent_qs, logits)  # [G, N]
    expected = mean_sign[..., None] * _expected_q_gradient(agent_qs, logits)
    assert torch.allclose(th.sign_trick_directions(mixer, agent_qs, logits), expected, atol=1e-12)
    exact = th.exact_agent_gradients(mixer, agent_qs, logits)
    cosine = torch.nn.functional.cosine_similarity(exact, expected, dim=-1)
    assert (cosine < 0).any() and (cosine > 0).any()  # non-monotone f: the sign trick can point downhill


def test_exact_joint_gradient_matches_finite_differences(games):
    agent_qs, logits = games[0][:1], games[1][:1]
    mixer, eps = th.bilinear_mixer(1.5), 1e-6
    exact = th.exact_agent_gradients(mixer, agent_qs, logits)
    step = torch.zeros_like(logits)
    step[0, 1, 2] = eps
    numeric = (th.expected_q_tot(mixer, agent_qs, logits + step) - th.expected_q_tot(mixer, agent_qs, logits - step))
    assert exact[0, 1, 2].item() == pytest.approx(numeric.item() / (2 * eps), abs=1e-8)


def test_bilinear_mixer_gives_parallel_directions(games):
    agent_qs, logits = games
    mixer = th.bilinear_mixer(2.0)
    mean_slope, mean_sign = th.mixer_slope_averages(mixer, agent_qs, logits)
    direction = _expected_q_gradient(agent_qs, logits)
    assert torch.allclose(th.exact_agent_gradients(mixer, agent_qs, logits), mean_slope[..., None] * direction,
                          atol=1e-12)
    assert torch.allclose(th.sign_trick_directions(mixer, agent_qs, logits), mean_sign[..., None] * direction,
                          atol=1e-12)
    assert ((mean_slope > 0) != (mean_sign > 0)).any()  # they disagree in some games


def test_monotone_mlp_mixer_has_positive_slopes(games):
    agent_qs, logits = games
    mean_slope, mean_sign = th.mixer_slope_averages(th.random_mlp_mixer(2, seed=5, monotone=True), agent_qs, logits)
    assert (mean_slope > 0).all() and torch.allclose(mean_sign, torch.ones_like(mean_sign))


def test_the_kits_own_mixer_reads_the_one_feature_state_of_a_one_step_game(games):
    """The Mixer contract is that of ``nqmix_core.networks``: a real NQMIX mixer (state_dim 1) takes the games."""
    from nqmix_core.networks.mixers import NQMIXMixer

    agent_qs, logits = games[0][:20], games[1][:20]
    torch.manual_seed(0)
    mixer = NQMIXMixer(n_agents=2, state_dim=1).double()
    _, mean_sign = th.mixer_slope_averages(mixer, agent_qs, logits)
    assert torch.allclose(th.sign_trick_directions(mixer, agent_qs, logits),
                          mean_sign[..., None] * _expected_q_gradient(agent_qs, logits), atol=1e-12)
    assert th.expected_q_tot(mixer, agent_qs, logits).shape == (20,)


def test_one_game_without_a_batch_axis_gives_the_same_numbers_as_in_a_batch(games):
    agent_qs, logits = games
    mixer = th.bilinear_mixer(2.0)
    one = th.expected_q_tot(mixer, agent_qs[4], logits[4])
    assert one.shape == () and torch.allclose(one, th.expected_q_tot(mixer, agent_qs, logits)[4], atol=1e-12)
    assert torch.allclose(th.sign_trick_directions(mixer, agent_qs[4], logits[4]),
                          th.sign_trick_directions(mixer, agent_qs, logits)[4], atol=1e-12)


def test_the_bilinear_mixer_and_its_slope_averages_by_hand():
    mixer = th.bilinear_mixer(2.0)
    assert mixer(torch.tensor([1.0, 3.0], dtype=D), None).item() == 1 + 3 - 2 * 1 * 3
    assert mixer(torch.tensor([[0.5, -1.0]], dtype=D), None).tolist() == [0.5 - 1.0 + 2 * 0.5]
    # two actions each, Q_a(u) = [1, -1] and uniform policies: the 4 joint actions are equally likely
    agent_qs, logits = torch.tensor([[1.0, -1.0], [1.0, -1.0]], dtype=D), torch.zeros(2, 2, dtype=D)
    slope, sign = th.mixer_slope_averages(mixer, agent_qs, logits)
    # ∂f/∂q_1 = 1 − 2 q_2 is −1 when q_2 = 1 and 3 when q_2 = −1: mean 1, mean sign 0; likewise for agent 2
    assert torch.allclose(slope, torch.tensor([1.0, 1.0], dtype=D)) and torch.allclose(sign, torch.zeros(2, dtype=D))
    # Q_2 = 0.5 for both actions: ∂f/∂q_1 = 1 − 2 · 0.5 = 0 at every joint action, whose sign is 0 (not NaN)
    flat = torch.tensor([[1.0, -1.0], [0.5, 0.5]], dtype=D)
    slope, sign = th.mixer_slope_averages(mixer, flat, logits)
    assert slope[0].item() == 0.0 and sign[0].item() == 0.0


def test_the_gradients_leave_their_inputs_as_they_were(games):
    agent_qs, logits = games[0][:5], games[1][:5]
    mixer = th.bilinear_mixer(1.5)
    th.exact_agent_gradients(mixer, agent_qs, logits)
    th.sign_trick_directions(mixer, agent_qs, logits)
    actions, targets = torch.zeros(5, 2, dtype=D), torch.ones(5, 2, dtype=D)
    th.deterministic_game_directions(mixer, actions, targets)
    assert not any(t.requires_grad for t in (agent_qs, logits, actions, targets))


def test_deterministic_sign_trick_is_a_positive_multiple_of_the_gradient():
    gen = torch.Generator().manual_seed(0)
    actions, targets = torch.randn(200, 2, generator=gen, dtype=D), torch.randn(200, 2, generator=gen, dtype=D)
    mixer = th.random_mlp_mixer(2, seed=1)
    exact, nqmix = th.deterministic_game_directions(mixer, actions, targets)
    agent_qs = (-(actions - targets) ** 2).requires_grad_(True)
    (slopes,) = torch.autograd.grad(mixer(agent_qs, torch.zeros(200, 2, 1, dtype=D)).sum(), agent_qs)
    assert torch.allclose(exact, slopes.abs() * nqmix, atol=1e-12)  # chain rule: ∂f/∂Q_a = |∂f/∂Q_a| sign
    assert (slopes < 0).any()  # the mixer really is non-monotone here


# --------------------------------------------------------------------------- deterministic PG (LQ)


@pytest.fixture
def lq():
    problem = th.random_lq_problem(state_dim=3, action_dim=2, gamma=0.9, seed=1)
    gain = 0.2 * torch.randn(2, 3, generator=torch.Generator().manual_seed(0), dtype=D)
    return problem, gain


def test_lq_gradient_matches_finite_differences(lq):
    problem, gain = lq
    exact, eps = th.lq_exact_gradient(problem, gain), 1e-6
    step = torch.zeros_like(gain)
    step[1, 0] = eps
    numeric = (th.lq_objective(problem, gain + step) - th.lq_objective(problem, gain - step)) / (2 * eps)
    assert exact[1, 0].item() == pytest.approx(numeric.item(), abs=1e-7)


def test_lq_value_matrix_matches_a_rollout(lq):
    problem, gain = lq
    state, total = torch.tensor([1.0, -0.5, 0.3], dtype=D), 0.0
    for t in range(400):
        action = gain @ state
        total += problem.gamma ** t * -(state @ problem.state_cost @ state + action @ problem.action_cost @ action)
        state = problem.dynamics @ state + problem.control @ action
    initial = torch.tensor([1.0, -0.5, 0.3], dtype=D)
    assert total.item() == pytest.approx(-(initial @ th.lq_value_matrix(problem, gain) @ initial).item(), abs=1e-10)


def test_lq_action_value_is_the_value_on_policy_and_one_step_of_bellman_off_it(lq):
    problem, gain = lq
    states = torch.randn(7, 3, generator=torch.Generator().manual_seed(4), dtype=D)  # 7 states: not n = 3
    value_matrix = th.lq_value_matrix(problem, gain)
    values = -((states @ value_matrix) * states).sum(-1)  # V^μ(s) = −sᵀ P s
    assert torch.allclose(th.lq_action_value(problem, gain, states, states @ gain.T), values, atol=1e-12)
    state, action = torch.tensor([1.0, -0.5, 0.3], dtype=D), torch.tensor([0.4, -2.0], dtype=D)  # u ≠ K s
    following = problem.dynamics @ state + problem.control @ action
    by_hand = (-(state @ problem.state_cost @ state) - (action @ problem.action_cost @ action)
               - problem.gamma * (following @ value_matrix @ following))
    assert th.lq_action_value(problem, gain, state, action).item() == pytest.approx(by_hand.item(), abs=1e-12)


def test_the_random_lq_dynamics_have_spectral_radius_0_8():
    for seed in range(3):
        problem = th.random_lq_problem(seed=seed)
        assert torch.linalg.eigvals(problem.dynamics).abs().max().item() == pytest.approx(0.8, abs=1e-12)


def test_deterministic_policy_gradient_equals_exact_gradient(lq):
    problem, gain = lq
    exact = th.lq_exact_gradient(problem, gain)
    assert th.relative_error(th.deterministic_policy_gradient(problem, gain), exact) < 1e-10
    sampled = th.lq_sampled_policy_gradient(problem, gain, 4_000, torch.Generator().manual_seed(3))
    assert th.relative_error(sampled, exact) < 0.1  # Eq. 10's average; its error shrinks like 1/√n


def test_unstable_gain_is_rejected(lq):
    problem, _ = lq
    with pytest.raises(ValueError, match="unstable"):
        th.lq_objective(problem, 100.0 * torch.ones(2, 3, dtype=D))
