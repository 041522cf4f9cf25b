"""The per-agent actors and the continuous critic's agent network by hand: N independent linear layers in one
einsum, π as a softmax over the available actions, μ squashed into the action bounds, the continuous network's
inputs, its Q-head, and its sequence unroll against step-by-step acting."""
from __future__ import annotations

import math

import torch

from nqmix_core.networks.actors import Actors, BatchedLinear
from nqmix_core.networks.continuous_agent import (
    ContinuousAgentNetwork,
    DeterministicActors,
    continuous_agent_inputs,
    continuous_sequence_inputs,
)


def test_batched_linear_is_one_linear_layer_per_agent():
    torch.manual_seed(0)
    layer = BatchedLinear(n_agents=3, in_dim=4, out_dim=2)
    for init in (layer.weight, layer.bias):  # nn.Linear's init, per agent: uniform on ±1/√in
        assert init.abs().max() <= 1 / math.sqrt(4) and init.min() < 0 < init.max()
    x = torch.randn(5, 6, 3, 4)  # [B, T, N, in]
    out = layer(x)  # [B, T, N, out]
    for a in range(3):
        assert torch.allclose(out[..., a, :], x[..., a, :] @ layer.weight[a] + layer.bias[a], atol=1e-6)


def test_actors_give_each_agent_a_softmax_of_its_own_logits_over_its_available_actions():
    torch.manual_seed(1)
    actors = Actors(n_agents=2, rnn_hidden_dim=3, n_actions=4, hidden_dim=5)
    hidden = torch.randn(7, 2, 3)  # [E, N, H]
    avail = torch.rand(7, 2, 4) > 0.4
    avail[..., 0] = True
    pi = actors(hidden, avail)  # [E, N, U]
    for a in range(2):
        logits = torch.relu(hidden[:, a] @ actors.fc1.weight[a] + actors.fc1.bias[a]) @ actors.fc2.weight[a] \
            + actors.fc2.bias[a]  # [E, U]
        want = torch.softmax(logits.masked_fill(~avail[:, a], float("-inf")), -1)
        assert torch.allclose(pi[:, a], want, atol=1e-6)
    assert torch.equal(pi[~avail], torch.zeros(int((~avail).sum())))


def test_deterministic_actors_squash_into_the_bounds_by_hand():
    torch.manual_seed(2)
    actors = DeterministicActors(n_agents=2, rnn_hidden_dim=3, action_dim=2, hidden_dim=5, bounds=(-2.0, 3.0))
    hidden = torch.randn(4, 2, 3)
    z = actors.fc2(torch.relu(actors.fc1(hidden)))  # [E, N, A]
    assert torch.allclose(actors(hidden), -2.0 + 5.0 * (torch.tanh(z) + 1) / 2, atol=1e-6)
    with torch.no_grad():
        actors.fc2.bias.fill_(-40.0)  # tanh → −1: the lower bound
    assert torch.allclose(actors(hidden), torch.full((4, 2, 2), -2.0))


def test_continuous_inputs_carry_the_last_action_vector_zero_before_the_first():
    obs = torch.tensor([[[0.5], [2.0]]])  # [E=1, N=2, O=1]
    last = torch.tensor([[[0.1, -0.2], [0.3, 0.4]]])  # [E, N, A=2]
    want = torch.tensor([[[0.5, 0.1, -0.2, 1.0, 0.0], [2.0, 0.3, 0.4, 0.0, 1.0]]])
    assert torch.equal(continuous_agent_inputs(obs, last), want)
    actions = torch.rand(2, 3, 2, 2)  # [B, T, N, A]
    inputs = continuous_sequence_inputs(torch.zeros(2, 4, 2, 1), actions)  # [B, T+1, N, 1+2+2]
    assert torch.equal(inputs[:, 0, :, 1:3], torch.zeros(2, 2, 2))
    assert torch.equal(inputs[:, 1:, :, 1:3], actions)


def test_the_continuous_network_unrolls_like_its_steps_and_values_an_action_after_the_gru():
    torch.manual_seed(3)
    net = ContinuousAgentNetwork(input_dim=5, action_dim=2, hidden_dim=8)
    inputs = torch.randn(2, 4, 3, 5)  # [B, T, N, D]
    history = net.history(inputs)  # [B, T, N, H]
    hidden = net.initial_hidden((2, 3), torch.device("cpu"))
    for t in range(4):
        hidden = net.step(inputs[:, t], hidden)
        assert torch.allclose(history[:, t], hidden, atol=1e-6), t
    actions = torch.rand(2, 4, 3, 2)
    hand = net.fc_out(torch.relu(net.fc_q(torch.cat([history, actions], -1))))[..., 0]  # [B, T, N]
    assert torch.allclose(net.q(history, actions), hand, atol=1e-6)
