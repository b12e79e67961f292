"""Write a diffusers SDXL folder as one original-format (LDM) `.safetensors` file, the layout community
SDXL checkpoints ship in, so the single-file loading path can be tested on the tiny smoke model.

The key layout is the Stability "generative-models" one: `model.diffusion_model.*` (UNet),
`first_stage_model.*` (VAE), `conditioner.embedders.0.transformer.*` (CLIP-L, Hugging Face names) and
`conditioner.embedders.1.model.*` (OpenCLIP bigG names, fused q/k/v).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1", "norm2": "out_layers.0",
          "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
UNET_TOP = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
            "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
            "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}


def _resnet(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return f"{RESNET.get(head, head)}.{tail}"


def unet_to_ldm(sd: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    per = config["layers_per_block"]
    levels = len(config["block_out_channels"])
    out = {}
    for key, value in sd.items():
        parts = key.split(".")
        new = None
        for src, dst in UNET_TOP.items():
            if key.startswith(src + "."):
                new = dst + key[len(src):]
        if parts[0] == "down_blocks":
            i, kind, j, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
            if kind == "resnets":
                new = f"input_blocks.{1 + i * (per + 1) + j}.0.{_resnet(rest)}"
            elif kind == "attentions":
                new = f"input_blocks.{1 + i * (per + 1) + j}.1.{rest}"
            elif kind == "downsamplers":
                new = f"input_blocks.{1 + i * (per + 1) + per}.0.op.{rest.removeprefix('conv.')}"
        elif parts[0] == "mid_block":
            kind, j, rest = parts[1], int(parts[2]), ".".join(parts[3:])
            new = f"middle_block.{2 * j}.{_resnet(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
        elif parts[0] == "up_blocks":
            i, kind, j, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
            has_attn = config["up_block_types"][i].startswith("CrossAttn")
            if kind == "resnets":
                new = f"output_blocks.{i * (per + 1) + j}.0.{_resnet(rest)}"
            elif kind == "attentions":
                new = f"output_blocks.{i * (per + 1) + j}.1.{rest}"
            elif kind == "upsamplers":
                new = f"output_blocks.{i * (per + 1) + per}.{2 if has_attn else 1}.{rest}"
        if new is None:
            raise KeyError(f"unmapped UNet key {key} ({levels} levels)")
        out["model.diffusion_model." + new] = value
    return out


VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def vae_to_ldm(sd: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    levels = len(config["block_out_channels"])
    out = {}
    for key, value in sd.items():
        parts = key.split(".")
        new = key.replace("conv_norm_out", "norm_out")
        if parts[1] in ("down_blocks", "up_blocks"):
            side, i, kind, rest = parts[0], int(parts[2]), parts[3], parts[4:]
            level = i if side == "encoder" else levels - 1 - i  # the LDM decoder counts from the bottom
            if kind == "resnets":
                name = rest[1].replace("conv_shortcut", "nin_shortcut")
                new = f"{side}.{'down' if side == 'encoder' else 'up'}.{level}.block.{rest[0]}.{name}.{rest[2]}"
            else:
                which = "downsample" if kind == "downsamplers" else "upsample"
                new = f"{side}.{'down' if side == 'encoder' else 'up'}.{level}.{which}.{'.'.join(rest[1:])}"
        elif parts[1] == "mid_block":
            side, kind, j, rest = parts[0], parts[2], int(parts[3]), ".".join(parts[4:])
            if kind == "resnets":
                new = f"{side}.mid.block_{j + 1}.{rest.replace('conv_shortcut', 'nin_shortcut')}"
            else:
                for src, dst in VAE_ATTN.items():
                    if rest.startswith(src + "."):
                        rest = dst + rest[len(src):]
                new = f"{side}.mid.attn_1.{rest}"
                if value.ndim == 2:  # LDM's VAE attention uses 1x1 convolutions
                    value = value[:, :, None, None]
        out["first_stage_model." + new] = value
    return out


def openclip_to_ldm(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    fused: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in sd.items():
        if key.endswith("position_ids"):
            continue
        if key == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
            continue
        new = (key.replace("text_model.embeddings.token_embedding", "token_embedding")
               .replace("text_model.embeddings.position_embedding.weight", "positional_embedding")
               .replace("text_model.final_layer_norm", "ln_final")
               .replace("text_model.encoder.layers.", "transformer.resblocks.")
               .replace("layer_norm1", "ln_1").replace("layer_norm2", "ln_2")
               .replace(".mlp.fc1.", ".mlp.c_fc.").replace(".mlp.fc2.", ".mlp.c_proj.")
               .replace(".self_attn.", ".attn."))
        for proj in ("q_proj", "k_proj", "v_proj"):
            if f".attn.{proj}." in new:
                base, _, kind = new.partition(f".attn.{proj}.")
                fused.setdefault(f"{base}.attn.in_proj_{kind}", {})[proj] = value
                break
        else:
            out[prefix + new] = value
    for key, qkv in fused.items():
        out[prefix + key] = torch.cat([qkv["q_proj"], qkv["k_proj"], qkv["v_proj"]], dim=0)
    return out


def write_single_file(folder: Path, dest: Path) -> Path:
    def weights(sub: str) -> dict[str, torch.Tensor]:
        files = sorted((folder / sub).glob("*.safetensors"))
        return load_file(files[0])

    unet_cfg = json.loads((folder / "unet" / "config.json").read_text())
    vae_cfg = json.loads((folder / "vae" / "config.json").read_text())
    ckpt = {}
    ckpt.update(unet_to_ldm(weights("unet"), unet_cfg))
    ckpt.update(vae_to_ldm(weights("vae"), vae_cfg))
    for key, value in weights("text_encoder").items():
        ckpt["conditioner.embedders.0.transformer." + key] = value
    ckpt.update(openclip_to_ldm(weights("text_encoder_2"), "conditioner.embedders.1.model."))
    save_file({k: v.contiguous() for k, v in ckpt.items()}, dest)
    return dest
