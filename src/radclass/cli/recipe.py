"""``radclass recipe NAME``: run a reproducible diagnostic recipe (cross-validation, report, bundle)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app

_NAMES = ("ct-hemorrhage", "liver-seg-first", "image-classifier")
_NAME_HELP = (
    "ct-hemorrhage (Desai et al. configurations on the pool's head CT), liver-seg-first (U-Net, then "
    "ResNet50 on the masked slice) or image-classifier (any labelled set: --labels)."
)


@app.command()
def recipe(
    name: Annotated[str, typer.Argument(help=_NAME_HELP)],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default runs/NAME).", file_okay=False)
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Tiny subset, one epoch: an end-to-end check in seconds.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML settings (configs/NAME.toml).", exists=True, dir_okay=False),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels", help="image-classifier: CSV path,label[,patient] or a folder of class subfolders.", exists=True
        ),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option("--arch", help="image-classifier: alexnet, googlenet, resnet18/34/50, ranjbar_vgg or multitask."),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            "--weights",
            help="Local weights file (ImageNet state dict or checkpoint) for the pretrained networks; "
            "nothing is downloaded.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    bundle_to: Annotated[
        Path | None,
        typer.Option(
            "--bundle-to",
            help="ct-hemorrhage: also copy the bundle here (e.g. src/radclass/bundled/ct-hemorrhage).",
            file_okay=False,
        ),
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="torch CPU threads.")] = None,
) -> None:
    """Run recipe NAME: out-of-fold predictions and `radclass evaluate` reports, summary, model card, bundle."""
    if name not in _NAMES:
        raise typer.BadParameter(f"unknown recipe {name!r}: use one of {', '.join(_NAMES)}", param_hint="NAME")
    try:
        import torch  # noqa: F401
    except ImportError as err:
        typer.echo(f"error: recipes need the train extra (pip install 'radclass[train,eval]'): {err}", err=True)
        raise typer.Exit(2) from None
    from dataclasses import replace

    from radclass.diagnostic.recipes.common import Logger

    out = out or Path("runs") / name
    log = Logger(lambda line: typer.echo(line, err=True))
    if name == "ct-hemorrhage":
        from radclass.diagnostic.recipes.ct_hemorrhage import CtHemorrhageConfig, run_ct_hemorrhage

        cfg = CtHemorrhageConfig.load(config, quick=quick)
        cfg = replace(
            cfg,
            weights=str(weights) if weights else cfg.weights,
            fit=replace(cfg.fit, threads=threads or cfg.fit.threads),
        )
        summary = run_ct_hemorrhage(out, cfg, bundle_to=bundle_to, log=log)
        for n, r in summary["configurations"].items():
            typer.echo(f"{n}: AUC {r['auc']:.3f} [{r['auc_ci95'][0]:.3f}, {r['auc_ci95'][1]:.3f}]")
        typer.echo(f"best: {summary['best']}; bundled: {summary['bundled']}")
    elif name == "liver-seg-first":
        from radclass.diagnostic.recipes.liver_seg_first import LiverSegFirstConfig, run_liver_seg_first

        liver_cfg = LiverSegFirstConfig.load(config, quick=quick)
        liver_cfg = replace(
            liver_cfg,
            weights=str(weights) if weights else liver_cfg.weights,
            fit=replace(liver_cfg.fit, threads=threads or liver_cfg.fit.threads),
            seg=replace(liver_cfg.seg, threads=threads or liver_cfg.seg.threads),
        )
        summary = run_liver_seg_first(out, liver_cfg, log=log)
        typer.echo("Dice (held-out slices): " + ", ".join(f"{k} {v:.3f}" for k, v in summary["dice"].items()))
        for masking, f in summary["classification"]["figures"].items():
            if isinstance(f, dict):
                typer.echo(
                    f"{summary['classification']['task']}, {masking}: AUC {f['auc']:.3f} "
                    f"[{f['auc_ci95'][0]:.3f}, {f['auc_ci95'][1]:.3f}]"
                )
    else:
        if labels is None:
            raise typer.BadParameter("image-classifier needs --labels CSV_OR_FOLDER", param_hint="--labels")
        from radclass.diagnostic.recipes.image_classifier import ImageClassifierConfig, run_image_classifier

        ic_cfg = ImageClassifierConfig.load(config, quick=quick)
        ic_cfg = replace(
            ic_cfg,
            arch=arch or ic_cfg.arch,
            weights=str(weights) if weights else ic_cfg.weights,
            fit=replace(ic_cfg.fit, threads=threads or ic_cfg.fit.threads),
        )
        summary = run_image_classifier(out, labels, ic_cfg, log=log)
        typer.echo(
            f"{summary['n_images']} images: accuracy {summary['accuracy']:.3f}, "
            f"balanced accuracy {summary['balanced_accuracy']:.3f}"
        )
    typer.echo(f"outputs: {out} ({summary['seconds']} s)")
