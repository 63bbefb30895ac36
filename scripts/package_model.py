"""Package a trained model file for shipping: set its decoding options, store fp16 weights,
and add notes to its provenance. The architecture and weights are unchanged.

    python scripts/package_model.py runs/photo/model.safetensors src/tinct/weights/photo.safetensors \
        --average-with runs/ft/model.safetensors --fusion-from runs/fusion.safetensors \
        --temperature 0.5 --blend 0.3 --global-prior 3 --half --note "decoding chosen on 80 training images"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tinct.hints.fusion import HintFusion
from tinct.uncertainty.heads import AlternativeHeads
from tinct.modelfile import load_alternatives, load_fusion, load_model, read_record, recorded_kwargs, save_model


RECIPE_KEYS = ("init", "data", "steps", "batch_size", "crop", "lr", "lr_decay_start", "loss", "cls_weight",
               "rebalance", "cf_weight", "cf_enhance", "min_colorfulness", "gan_weight", "hints", "seed")


def _run_recipe(run_dir: Path) -> dict:
    """The training recipe of the run a checkpoint comes from (its ``config.json``), if it is there."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return {"recipe": {k: config[k] for k in RECIPE_KEYS if k in config}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--temperature", type=float, help="annealed-mean temperature of the bin head")
    ap.add_argument("--blend", type=float, help="share of the regression head mixed in (0..1)")
    ap.add_argument("--render-size", type=int, help="the working size used when the user gives none (32-2048)")
    ap.add_argument("--auto-temperature", type=float, help="line art: softmax temperature of the automatic hint")
    ap.add_argument("--hist-match", type=float, help="line art: how far a palette's or reference's histogram moves the "
                                                       "painted tones (0..1)")
    ap.add_argument("--global-prior", type=float, help="exponent of the palette / reference color prior (0 = off)")
    ap.add_argument("--fusion-from", help="a fused model file (tinct train-fusion) whose fusion stage is copied in")
    ap.add_argument("--alternatives-from", help="a model file with learned alternatives (tinct train-alternatives) "
                    "whose alternatives are copied in (the source's own are kept otherwise)")
    ap.add_argument("--alternatives-temper", help="SCALE,POWER: the learned alternatives change the colors by "
                    "SCALE x doubt^POWER x what their heads predict (trained at 1,1)")
    ap.add_argument("--average-with", help="a model file of the same architecture: ship the mean of the two weight sets "
                    "(checkpoint averaging, as stochastic weight averaging)")
    ap.add_argument("--guide", help="AB,FEAT: the fusion's propagations also stop at edges of the network's colors "
                    "and features with these weights (0,0 = lightness edges only)")
    ap.add_argument("--fit", help="GAIN,OFFSET[,LIGHTNESS]: from the second point hint on, map the network's colors "
                    "by a global color transform fitted to the points, with these prior strengths in hints; the "
                    "third adds a lightness-dependent cast (none = off)")
    ap.add_argument("--confine", help="FALLOFF,AGREE: a lone point hint's change fades with the distance from it over "
                                      "FALLOFF x the shorter side, unless its color is within about AGREE ab units of "
                                      "the network's (none = as fused)")
    ap.add_argument("--network-from", help="a training checkpoint (tinct train's checkpoint.pt) whose network weights "
                    "replace the source's; the source's fusion stage and settings are kept")
    ap.add_argument("--half", action="store_true", help="store float16 weights")
    ap.add_argument("--note", action="append", default=[], help="a line added to the provenance notes")
    ap.add_argument("--purpose", help="one line on what the model is for (shown by the server and the page)")
    ap.add_argument("--metrics", help="JSON object of measured metrics to record")
    args = ap.parse_args()
    model, record = load_model(args.src)
    fusion = load_fusion(args.src)
    alternatives = load_alternatives(args.src)
    kwargs = recorded_kwargs(model)  # every argument, as loaded
    for key, value in (("temperature", args.temperature), ("blend", args.blend), ("global_prior", args.global_prior),
                       ("auto_temperature", args.auto_temperature), ("render_size", args.render_size),
                       ("hist_match", args.hist_match)):
        if value is not None:
            kwargs[key] = value
    from tinct.registry import create_model

    provenance = dict(record.get("provenance", {}))
    state = model.state_dict()
    if args.network_from:
        import torch

        ck = torch.load(args.network_from, map_location="cpu", weights_only=True)
        net = {k: v for k, v in ck["model"].items() if not k.startswith("fusion.")}
        if set(net) != set(state) or any(net[k].shape != state[k].shape for k in net):
            raise SystemExit(f"{args.network_from}: network weights do not match {args.src}")
        state = net
        provenance["network_from"] = {"checkpoint": str(args.network_from), "step": ck.get("step"),
                                      **_run_recipe(Path(args.network_from).parent)}
    if args.average_with:
        other, other_record = load_model(args.average_with)
        if other_record["arch"] != record["arch"] or other_record["kwargs"].get("hints") != record["kwargs"].get("hints"):
            raise SystemExit(f"{args.average_with} is not the same architecture as {args.src}")
        o = other.state_dict()
        if set(o) != set(state) or any(o[k].shape != v.shape for k, v in state.items()):
            raise SystemExit(f"{args.average_with}: weights do not match {args.src}")
        state = {k: (v + o[k]) / 2 if v.is_floating_point() else v for k, v in state.items()}
        provenance["averaged_with"] = other_record.get("provenance", {})
    if args.fusion_from:
        fusion = load_fusion(args.fusion_from)
        if fusion is None:
            raise SystemExit(f"{args.fusion_from} has no fusion stage")
        provenance["fusion"] = read_record(args.fusion_from).get("provenance", {}).get("fusion", {})
    if args.alternatives_from:
        alternatives = load_alternatives(args.alternatives_from)
        if alternatives is None:
            raise SystemExit(f"{args.alternatives_from} has no learned alternatives")
        provenance["alternatives"] = read_record(args.alternatives_from).get("provenance", {}).get("alternatives", {})
    if args.alternatives_temper is not None:
        if alternatives is None:
            raise SystemExit("--alternatives-temper needs a model with learned alternatives (or --alternatives-from)")
        try:
            scale, power = (float(v) for v in args.alternatives_temper.split(","))
            tempered = AlternativeHeads(**{**alternatives.kwargs, "scale": scale, "power": power})
        except ValueError as exc:
            raise SystemExit(f"--alternatives-temper takes SCALE,POWER as 0.7,1.5: {exc}") from None
        tempered.load_state_dict(alternatives.state_dict())
        alternatives = tempered
    settings = dict(fusion.kwargs) if fusion is not None else {}
    if args.guide is not None:
        guide = _fusion_numbers(fusion, "--guide", args.guide, "two weights 0 or more, as 10000,30",
                                lambda g: len(g) == 2 and min(g) >= 0)
        settings["guide"] = guide if any(guide) else None
    if args.fit is not None:
        settings["fit"] = None if args.fit == "none" else _fusion_numbers(
            fusion, "--fit", args.fit, "two or three strengths above 0, as 0.1,0.1,0.3 (or none)",
            lambda g: len(g) in (2, 3) and min(g) > 0)
    if args.confine is not None:
        settings["confine"] = None if args.confine == "none" else _fusion_numbers(
            fusion, "--confine", args.confine, "a falloff share above 0 and an agreement 0 or more, as 0.25,40 (or none)",
            lambda g: len(g) == 2 and 0 < g[0] <= 10 and 0 <= g[1] <= 500)
    if fusion is not None and settings != fusion.kwargs:  # the same weights under the new settings
        weights = fusion.state_dict()
        fusion = HintFusion(**settings)
        fusion.load_state_dict(weights)
    shipped = create_model(record["arch"], **{**kwargs, "pretrained": False})
    shipped.load_state_dict(state, strict=True)
    provenance["notes"] = provenance.get("notes", []) + args.note
    if args.metrics:
        provenance["benchmark"] = json.loads(args.metrics)
    extra = {"purpose": args.purpose or record.get("purpose")} if (args.purpose or record.get("purpose")) else {}
    save_model(shipped, args.dst, provenance=provenance, half=args.half, fusion=fusion, alternatives=alternatives,
               **extra)
    print(f"wrote {args.dst}: {record['arch']} {json.dumps(kwargs)}"
          + (f" + fusion {json.dumps(fusion.kwargs)}" if fusion is not None else "")
          + (f" + alternatives {json.dumps(alternatives.kwargs)}" if alternatives is not None else ""))
    return 0


def _fusion_numbers(fusion, flag: str, text: str, what: str, valid) -> list[float]:
    """Comma-separated numbers for a fusion option, or a one-line exit."""
    if fusion is None:
        raise SystemExit(f"{flag} needs a model with a fusion stage (or --fusion-from)")
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or not valid(values):
        raise SystemExit(f"{flag} takes {what}; got {text!r}")
    return values


if __name__ == "__main__":
    sys.exit(main())
