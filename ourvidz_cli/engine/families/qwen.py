"""Qwen 2.5 Instruct through transformers: one chat answer, greedy, so the same input gives the same text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.engine.families.base import at_revision

_SMOKE_CORPUS = [
    "a lighthouse at dawn, cinematic lighting, volumetric fog, highly detailed",
    "a cat walks along the beach at sunset, the camera tracks slowly to the left",
    "portrait of an old fisherman, soft window light, 85mm lens, shallow depth of field",
    "a neon city street in the rain at night, reflections, wide shot, moody",
]
_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class Loaded:
    tokenizer: Any
    model: Any
    device: str


class Qwen:
    kind = "qwen"
    marker = "config.json"
    pull_allow = ("*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken")
    pull_ignore = ("*.bin", "*.pth", "*.gguf")
    fp32_components: tuple[str, ...] = ()
    ram_component = None

    def load(self, model: ModelRef, device: str, dtype: Any, mode: str = "full", compile_: bool = False) -> Loaded:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if model.loras:
            raise ValueError("LoRAs are supported for the SDXL and Wan models, not for Qwen")
        tokenizer = AutoTokenizer.from_pretrained(model.source, **at_revision(model))
        llm = AutoModelForCausalLM.from_pretrained(model.source, dtype=dtype, **at_revision(model)).to(device).eval()
        return Loaded(tokenizer=tokenizer, model=llm, device=device)

    def chat(self, loaded: Loaded, messages: list[dict[str, str]], max_new_tokens: int) -> str:
        import torch

        inputs = loaded.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(loaded.device)
        with torch.inference_mode():
            # Greedy: Qwen's shipped generation config samples; a re-run must give the same prompt, and the
            # unused sampling knobs are cleared so transformers does not warn about them.
            out = loaded.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, temperature=None,
                                        top_p=None, top_k=None)
        return str(loaded.tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))

    def build_smoke(self, target: Path) -> None:
        import torch
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        bpe.train_from_iterator(
            _SMOKE_CORPUS * 4,
            trainers.BpeTrainer(vocab_size=512, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
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
        model = Qwen2ForCausalLM(config)
        _teach(model, tokenizer)
        # Qwen2.5-Instruct's own sampling defaults.
        model.generation_config.update(eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, do_sample=True,
                                       temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05)
        model.save_pretrained(target)


def _teach(model: Any, tokenizer: Any, steps: int = 120) -> None:
    """A few seconds of training on the corpus, in the chat format the enhancer sends (each of the
    smoke catalog's enhancement system prompts, a short prompt in, the full line out), so the smoke
    enhancer gives a real, cleanable answer instead of an empty one and the enhanced path is the one
    tested. Seeded and single-process: the same weights on every build."""
    import torch

    from ourvidz_cli.catalog.load import load_catalog, smoke_overlay_path

    prompts = load_catalog(smoke_overlay_path()).prompts
    examples = []
    for name, target in prompts.items():
        if name.startswith("storyboard"):
            continue  # storyboards want JSON; their tests cover the repair and fallback of a bad answer
        for line in _SMOKE_CORPUS:
            messages = [{"role": "system", "content": target.system}, {"role": "user", "content": line.split(",")[0]}]
            asked = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            asked_ids, answer_ids = tokenizer(asked)["input_ids"], tokenizer(line + "<|im_end|>")["input_ids"]
            examples.append((torch.tensor([asked_ids + answer_ids]),
                             torch.tensor([[-100] * len(asked_ids) + answer_ids])))
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        for ids, labels in examples:
            model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


FAMILY = Qwen()
