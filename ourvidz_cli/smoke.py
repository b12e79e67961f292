"""The smoke profile: tiny random-weight SDXL, Wan and Qwen models, built offline.

They are the real diffusers/transformers classes with tokenizers built locally and saved with
save_pretrained, so loading and generation run exactly the code that real weights run.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog import smoke_overlay_path
from ourvidz_cli.paths import smoke_dir as smoke_dir

MODELS = ("sdxl", "wan", "qwen")
_CHARS = string.ascii_lowercase + string.digits + ".,!?'-:;()"
_QWEN_CORPUS = [
    "a lighthouse at dawn, cinematic lighting, volumetric fog, highly detailed",
    "a cat walks along the beach at sunset, the camera tracks slowly to the left",
    "portrait of an old fisherman, soft window light, 85mm lens, shallow depth of field",
    "a neon city street in the rain at night, reflections, wide shot, moody",
]
_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def smoke_catalog_path(home: Path) -> Path:
    return smoke_dir(home) / "models.toml"


def refresh_catalog(home: Path) -> None:
    """Keep an existing smoke home's catalog in step with this release's overlay."""
    catalog = smoke_catalog_path(home)
    wanted = smoke_overlay_path().read_text(encoding="utf-8")
    if catalog.is_file() and catalog.read_text(encoding="utf-8") != wanted:
        catalog.write_text(wanted, encoding="utf-8")


def is_built(home: Path) -> bool:
    root = smoke_dir(home)
    return smoke_catalog_path(home).is_file() and all((root / "models" / m / ".complete").is_file() for m in MODELS)


def _clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _CHARS:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    return CLIPTokenizer(
        vocab=vocab, merges=[], model_max_length=77, bos_token="<|startoftext|>",
        eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<|endoftext|>",
    )


def _t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(ch, -3.0) for ch in _CHARS] + [("\u2581" + ch, -3.5) for ch in _CHARS]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


def build_sdxl(target: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = _clip_tokenizer()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80, cross_attention_dim=64, norm_num_groups=8,
    )
    # SDXL base's own scheduler settings.
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear", timestep_spacing="leading"
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4, sample_size=128,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
    )
    text_config = CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), hidden_act="gelu", projection_dim=32,
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(text_config).eval()
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(text_config).eval()
    StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=scheduler, image_encoder=None, feature_extractor=None,
    ).save_pretrained(target)


def build_wan(target: Path) -> None:
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = _t5_tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    # Wan 2.1's published scheduler: UniPC on flow-matching sigmas, shift 3.0 at 480p.
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )).eval()
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    )
    WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                transformer=transformer).save_pretrained(target)


def build_qwen(target: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe.train_from_iterator(
        _QWEN_CORPUS * 4,
        trainers.BpeTrainer(vocab_size=512, special_tokens=specials,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False),
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = _CHAT_TEMPLATE
    tokenizer.save_pretrained(target)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    # Qwen2.5-Instruct's own sampling defaults.
    model.generation_config.update(eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, do_sample=True,
                                   temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05)
    model.save_pretrained(target)


BUILDERS = {"sdxl": build_sdxl, "wan": build_wan, "qwen": build_qwen}


def init_smoke(home: Path, force: bool = False) -> Path:
    """Build whatever smoke model is missing, then write the smoke catalog; returns its path."""
    from ourvidz_cli import pipelines  # noqa: F401  (quiets the libraries before they load)

    root = smoke_dir(home)
    for name in MODELS:
        target = root / "models" / name
        if force or not (target / ".complete").is_file():
            # Build beside the target and rename, so an interrupted build is never taken as complete.
            staging = target.with_name(f".building-{name}")
            shutil.rmtree(staging, ignore_errors=True)
            BUILDERS[name](staging)
            (staging / ".complete").write_text("built by ourvidz models init-smoke\n")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    catalog = smoke_catalog_path(home)
    catalog.write_text(smoke_overlay_path().read_text(encoding="utf-8"), encoding="utf-8")
    return catalog
