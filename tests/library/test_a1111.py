"""The A1111 `parameters` format: what we write must read back with a parser written to that format."""

from __future__ import annotations

from ourvidz_cli.library.a1111 import format_parameters, parse_parameters

# As AUTOMATIC1111 1.x writes it (quoted values, extra keys, a multi-line prompt).
A1111_SAMPLE = (
    "masterpiece, a lighthouse at dawn,\nwarm light, (fog:1.2)\n"
    "Negative prompt: blurry, lowres\nworst quality\n"
    'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 832x1216, '
    'Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Lora hashes: "add_detail: 7c6bad76eb54, x: y", Version: v1.10.1'
)


def test_parses_a1111s_own_output() -> None:
    got = parse_parameters(A1111_SAMPLE)
    assert got["prompt"] == "masterpiece, a lighthouse at dawn,\nwarm light, (fog:1.2)"
    assert got["negative_prompt"] == "blurry, lowres\nworst quality"
    p = got["params"]
    assert p["Steps"] == "20" and p["Sampler"] == "DPM++ 2M" and p["Schedule type"] == "Karras"
    assert p["Seed"] == "1234567890" and p["Size"] == "832x1216" and p["Model"] == "sd_xl_base_1.0"
    assert p["Lora hashes"] == "add_detail: 7c6bad76eb54, x: y"
    assert p["Version"] == "v1.10.1"


def test_round_trip_with_awkward_values() -> None:
    params = {"Steps": 15, "Sampler": "Euler", "CFG scale": 7.0, "Seed": 42, "Size": "1024x1024",
              "Model": "my: model, v2", "Job type": "sdxl_image_fast", "Version": "ourvidz 0.1.0"}
    text = format_parameters('a "quoted" cat, on a mat: at night', "no dogs, no: cats", params)
    got = parse_parameters(text)
    assert got["prompt"] == 'a "quoted" cat, on a mat: at night'
    assert got["negative_prompt"] == "no dogs, no: cats"
    assert got["params"] == {k: str(v) for k, v in params.items()}


def test_no_negative_and_no_settings_line() -> None:
    assert parse_parameters("just a prompt") == {"prompt": "just a prompt", "negative_prompt": "", "params": {}}
    got = parse_parameters(format_parameters("p", "", {"Steps": 4, "Seed": 1, "Size": "48x80"}))
    assert got["negative_prompt"] == "" and got["params"]["Steps"] == "4"
