"""Wan 2.1 VACE: reference frames (first frame, last frame, subject references) for the Wan video types.

Only VACE's transformer is loaded here. The Wan family runs it inside `WanVACEPipeline` with the loaded
Wan pipeline's own UMT5 encoder, tokenizer and VAE (families.wan_modes), so a first-frame job after a
text-to-video job loads one transformer and nothing else, and the memory estimate counts that alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.engine.families.base import DIFFUSERS_IGNORE, at_revision

SUBFOLDER = "transformer"


class WanVace:
    kind = "wan_vace"
    marker = f"{SUBFOLDER}/config.json"
    # The VACE repo also ships a UMT5-XXL encoder and a VAE, which the loaded Wan model already has.
    pull_allow = (f"{SUBFOLDER}/*.json", f"{SUBFOLDER}/*.safetensors")
    pull_ignore = DIFFUSERS_IGNORE
    fp32_components: tuple[str, ...] = ()
    ram_component = None
    weights_subfolder = SUBFOLDER  # what the memory estimate counts
    companion_of = "wan"  # makes nothing alone: the Wan family runs it (families.wan_modes)

    def load(self, model: ModelRef, device: str, dtype: Any, mode: str = "full", compile_: bool = False) -> Any:
        from diffusers import WanVACETransformer3DModel

        transformer = WanVACETransformer3DModel.from_pretrained(model.source, subfolder=SUBFOLDER, dtype=dtype,
                                                                **at_revision(model))
        return transformer.to(device).eval()

    def build_smoke(self, target: Path) -> None:
        """diffusers' own test shape for VACE, beside the smoke Wan (same text width, same latent channels)."""
        import torch
        from diffusers import WanVACETransformer3DModel

        torch.manual_seed(0)
        transformer = WanVACETransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
            text_dim=32, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96,
        )
        transformer.save_pretrained(target / SUBFOLDER)


FAMILY = WanVace()
