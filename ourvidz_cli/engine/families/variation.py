"""Variation seeds (AUTOMATIC1111's subseed): the starting noise is the spherical interpolation of the
noise of the job's seed and of the variation seed, handed to the pipeline as its latents. The job's seed
generator is then passed on as it would be after drawing that noise itself, so strength 0 gives exactly
the plain seed's pixels (ancestral samplers included) and strength 1 the variation seed's noise."""

from __future__ import annotations

from typing import Any


def slerp(t: float, a: Any, b: Any) -> Any:
    """Per batch item, over the flattened noise; t=0 is `a` and t=1 is `b`, exactly."""
    import torch

    if t <= 0:
        return a
    if t >= 1:
        return b
    flat_a, flat_b = a.reshape(a.shape[0], -1).double(), b.reshape(b.shape[0], -1).double()
    dot = (flat_a / flat_a.norm(dim=1, keepdim=True) * flat_b / flat_b.norm(dim=1, keepdim=True)).sum(1)
    omega = torch.acos(dot.clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    near = sin.abs() < 1e-6  # (anti)parallel noise: a straight line is as good and does not divide by 0
    wa = torch.where(near, 1 - t, torch.sin((1 - t) * omega) / torch.where(near, 1.0, sin))
    wb = torch.where(near, t, torch.sin(t * omega) / torch.where(near, 1.0, sin))
    mixed = wa[:, None] * flat_a + wb[:, None] * flat_b
    return mixed.reshape(a.shape).to(a.dtype)


def start_noise(shape: tuple[int, ...], seed: int, variation_seed: int, strength: float, device: Any,
                dtype: Any) -> tuple[Any, Any]:
    """(latents for the pipeline, the seed's generator advanced past them)."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    generator = torch.Generator("cpu").manual_seed(seed)
    own = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
    other = randn_tensor(shape, generator=torch.Generator("cpu").manual_seed(variation_seed), device=device,
                         dtype=dtype)
    return slerp(strength, own, other), generator
