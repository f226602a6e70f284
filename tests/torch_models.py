"""Small torch models shared by the tests of more than one package (imported by torch-marked files only)."""

import math

import torch

from stability.numerical.models import FunctionModel


def unit_gaussian() -> FunctionModel:
    """N(theta, 1) in one dimension, with a batched exact sampler."""

    def log_prob(th, x):
        return -0.5 * (x[:, 0] - th[0]) ** 2 - 0.5 * math.log(2 * math.pi)

    def sample(th, m, gen):
        th = torch.as_tensor(th, dtype=torch.float64)
        return th[..., None, :1] + torch.randn(*th.shape[:-1], m, 1, generator=gen, dtype=torch.float64)

    return FunctionModel(log_prob, [0.0], sample=sample, batched_sample=True)
