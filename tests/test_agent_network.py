"""The shared agent network (App. B.1) by hand: its inputs (observation, last action's one-hot, zero before the
first action, agent id's one-hot), one GRU step written out from its equations, and the whole-sequence unroll
that training uses against the step-by-step one that acting uses."""
from __future__ import annotations

import torch

from nqmix_core.networks import AgentNetwork, agent_inputs, sequence_inputs


def test_agent_inputs_by_hand():
    obs = torch.tensor([[[0.5, -1.0], [2.0, 3.0]]])  # [E=1, N=2, O=2]
    last = torch.tensor([[2, -1]])  # agent 0 last took action 2; agent 1 has not acted yet
    want = torch.tensor([[[0.5, -1.0, 0.0, 0.0, 1.0, 1.0, 0.0],  # o, one-hot(2) of U=3, id 0
                          [2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 1.0]]])  # o, no action, id 1
    assert torch.equal(agent_inputs(obs, last, n_actions=3), want)


def test_sequence_inputs_read_the_action_taken_one_step_before():
    obs = torch.zeros(2, 4, 3, 1)  # [B, T+1, N, O]
    actions = torch.arange(2 * 3 * 3).reshape(2, 3, 3) % 4  # [B, T, N]
    inputs = sequence_inputs(obs, actions, n_actions=4)  # [B, T+1, N, 1+4+3]
    last_onehot = inputs[..., 1:5]
    assert torch.equal(last_onehot[:, 0], torch.zeros(2, 3, 4))  # nothing before t = 0
    assert torch.equal(last_onehot[:, 1:].argmax(-1), actions)
    assert torch.equal(last_onehot.sum(-1)[:, 1:], torch.ones(2, 3, 3))
    assert torch.equal(inputs[..., 5:], torch.eye(3).expand(2, 4, 3, 3))


def gru_step(gru: torch.nn.GRU, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One GRU step from its equations, PyTorch's gate order (reset, update, new):
    r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h."""
    gi = x @ gru.weight_ih_l0.T + gru.bias_ih_l0
    gh = h @ gru.weight_hh_l0.T + gru.bias_hh_l0
    (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3, -1), gh.chunk(3, -1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def test_one_step_is_linear_relu_gru_linear_written_out():
    torch.manual_seed(0)
    net = AgentNetwork(input_dim=6, n_actions=4, hidden_dim=8)
    inputs, hidden = torch.randn(2, 3, 6), torch.randn(2, 3, 8)  # [E, N, D], [E, N, H]
    q, new_hidden = net.step(inputs, hidden)
    want_hidden = gru_step(net.gru, torch.relu(net.fc_in(inputs)), hidden)  # [E, N, H]
    assert torch.allclose(new_hidden, want_hidden, atol=1e-6)
    assert torch.allclose(q, net.fc_out(want_hidden), atol=1e-6)


def test_the_sequence_unroll_is_the_step_by_step_one_for_every_episode_and_agent():
    torch.manual_seed(1)
    net = AgentNetwork(input_dim=5, n_actions=3, hidden_dim=8)
    inputs = torch.randn(2, 4, 3, 5)  # [B, T, N, D]: episodes, steps and agents all differ
    qs, hiddens = net(inputs)  # [B, T, N, U], [B, T, N, H]
    hidden = net.initial_hidden((2, 3), torch.device("cpu"))  # zeros [B, N, H]
    assert torch.equal(hidden, torch.zeros(2, 3, 8))
    for t in range(4):
        q, hidden = net.step(inputs[:, t], hidden)
        assert torch.allclose(hiddens[:, t], hidden, atol=1e-6), t  # h_t after reading step t
        assert torch.allclose(qs[:, t], q, atol=1e-6), t
