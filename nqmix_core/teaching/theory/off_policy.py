"""Claim C8 computed exactly: Eq. 3 (Eq. 7 in expectation) against the true policy gradient ∇J on random tabular
MDPs, with states weighted by the target policy π (on-policy) and by another behaviour policy b (off-policy).

    off_policy_claim()   # the claims table's C8 row; ``nqmix plot`` and notebook 05 pass it to claims_table

The rule (``claims_rules.EXACT``, ``BIASED``) is the claims table's; the computation lives here, beside the
exact solutions it uses (``theory.tabular``), so that the library's claims code imports no teaching code.
"""
from __future__ import annotations

import pandas as pd
import torch

from nqmix_core.claims_rules import BIASED, EXACT, combine
from nqmix_core.teaching.theory import tabular as th


def off_policy_bias(seeds: range = range(10), lam: float = 1.0) -> pd.DataFrame:
    """Eq. 3 against the exact ∇J on random tabular MDPs, on-policy and with b = softmax((1−λ)θ + λθ_b)."""
    rows = []
    for seed in seeds:
        mdp = th.random_mdp(seed=seed)
        generator = torch.Generator().manual_seed(1000 + seed)
        theta, theta_b = (torch.randn(mdp.n_states, mdp.n_actions, generator=generator, dtype=th.DTYPE)
                          for _ in range(2))
        policy = th.softmax_policy(theta)
        truth = th.exact_gradient(mdp, theta)
        _, q_values = th.value_functions(mdp, policy)
        row = {"seed": seed}
        for name, behaviour in (("on-policy", policy), ("off-policy", th.softmax_policy((1 - lam) * theta + lam * theta_b))):
            eq3 = th.policy_gradient_sum(theta, q_values, th.discounted_visitation(mdp, behaviour))
            row[f"{name} error"] = th.relative_error(eq3, truth).item()
            row[f"{name} cosine"] = th.cosine_similarity(eq3, truth).item()
        rows.append(row)
    return pd.DataFrame(rows)


def off_policy_claim(bias: pd.DataFrame | None = None) -> dict:
    """C8: exact on-policy, biased off-policy, on every random MDP (``bias``: ``off_policy_bias()``'s table,
    computed when not given)."""
    bias = off_policy_bias() if bias is None else bias
    on, off = bias["on-policy error"], bias["off-policy error"]
    # the paper's claim (App. A): Eq. 7 is the policy gradient with states drawn from the behaviour policy b.
    # It holds when Eq. 3 matches ∇J off-policy too; the kit finds it exact only on-policy (b = π).
    exact_off = off.max() < EXACT
    verdicts = ["holds" if exact_off else "does not hold" if off.min() > BIASED else "inconclusive"]
    return {"claim": "C8", "statement": "Eq. 3/7 with states from the behaviour policy b is the policy gradient (App. A)",
            "verdict": combine(verdicts), "budget": "exact (float64), 10 random MDPs",
            "leans": f"exact {'off-policy too' if exact_off else 'only on-policy'}; off-policy relative error "
                     f"{off.median():.2f} (median)",
            # the on-policy error is float64 round-off, different on every CPU: print only which side of EXACT it is
            "evidence": f"{len(bias)} random MDPs: relative error on-policy {'below' if on.max() < EXACT else 'above'} "
                        f"{EXACT:g}; off-policy "
                        f"{off.min():.2f}–{off.max():.2f}, cosine to ∇J {bias['off-policy cosine'].min():.2f}–"
                        f"{bias['off-policy cosine'].max():.2f}",
            "data": "computed exactly: nqmix_core.teaching.theory.off_policy (float64)"}


