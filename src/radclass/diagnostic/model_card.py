"""Model cards (markdown) for the diagnostic bundles, written from the measured figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_ct_hemorrhage_card"]


def _auc_row(name: str, r: dict[str, Any], best: str) -> str:
    p = r.get("delong_p_vs_best")
    folds = ", ".join(f"{a:.2f}" for a in r.get("fold_aucs", []))
    vs = "best" if name == best else ("n/a" if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}"))
    return (
        f"| {r['architecture']} | {r['initialisation']} | {'yes' if r['augmented'] else 'no'} | "
        f"{r['auc']:.3f} | {r['auc_ci95'][0]:.3f}-{r['auc_ci95'][1]:.3f} | {folds} | {vs} |"
    )


def _mean_auc(results: dict[str, dict[str, Any]], key: str, value: Any) -> float:
    aucs = [r["auc"] for r in results.values() if r[key] == value]
    return sum(aucs) / len(aucs) if aucs else float("nan")


def _findings(results: dict[str, dict[str, Any]]) -> str:
    """One sentence comparing the factors' mean AUCs (measured, so it follows the table)."""
    parts = [
        f"{label}: {_mean_auc(results, key, a):.3f} vs {_mean_auc(results, key, b):.3f}"
        for label, key, a, b in (
            ("scratch vs pretrained", "initialisation", "scratch", "pretrained"),
            ("not augmented vs augmented", "augmented", False, True),
            ("AlexNet vs GoogLeNet", "architecture", "alexnet", "googlenet"),
        )
    ]
    return "Mean AUC by factor (over the other two factors): " + "; ".join(parts) + "."


def write_ct_hemorrhage_card(
    folder: Path, meta: dict[str, Any], results: dict[str, dict[str, Any]], cfg, pretraining: str
) -> Path:
    """``model_card.md`` of the ``ct-hemorrhage`` bundle: data, inputs, cross-validated AUCs, limits."""
    trained = meta["trained"]
    best = max(results, key=lambda n: results[n]["auc"])
    pre = meta["preprocess"]
    init_note = pretraining + (
        "; the head-CT slices are never used in pretraining, so no cross-validation test image is seen there"
        if not cfg.weights
        else ""
    )
    lines = [
        f"# Model card: {meta['name']} v{meta['version']}",
        "",
        "Classifies one axial head-CT slice as HEMORRHAGE (intracranial haemorrhage visible) or NORMAL and",
        "reports the probability of HEMORRHAGE. A reproduction, on the data available here, of the 2D-CNN",
        "setting of Desai et al. 2019 (AlexNet/GoogLeNet, scratch vs pretrained, with and without augmentation).",
        "",
        "## Bundled network",
        f"- Configuration **{trained['configuration']}** ({meta['architecture']}, torchvision, `weights=None`),",
        f"  chosen as the best cross-validated AUC among configurations whose weights fit {cfg.max_bundle_mb:g} MB"
        + (
            " (the overall best)."
            if trained["configuration"] == best
            else f" (overall best: {best}, too large to bundle)."
        ),
        f"- Retrained on all {trained['n_images']} slices for {trained['epochs']} epochs (median early-stopping"
        f" epoch of its folds); {trained['seconds']} s on this machine's CPU. ONNX (`model.onnx`): input",
        f"  `image` (n, 3, {pre['input_size']}, {pre['input_size']}), output `probability` (n, 2) in the class order"
        f" {meta['classes']}.",
        "- Pretrained configurations start from: " + init_note + ".",
        "",
        "## Data",
        "- The pool's `ct-head` folder: 160 real head-CT slices (80 HEMORRHAGE, 80 NORMAL), PNG, RGB 8-bit as",
        "  distributed, sizes 134-957 pixels. 40 images of the source collection were withheld upstream.",
        "- **No patient IDs**: the collection holds several slices per patient, so slices of one patient can",
        "  fall on both sides of a fold. The cross-validated figures below are therefore likely optimistic.",
        "",
        "## Inputs and preprocessing",
        "- **The PNGs are already windowed** (by the collection's authors, window unknown): the original",
        "  Hounsfield units are lost, so neither CT-window augmentation nor the 3-channel brain/blood/stroke",
        "  multi-window input is possible for this model; it was trained on the grey PNG replicated to 3 channels.",
        f"- Pad to square, resize to {pre['load_size']} px (bilinear), centre crop {pre['input_size']} px,"
        " ImageNet mean/std normalisation.",
        f"- DICOM/NIfTI CT input is converted to HU (RescaleSlope/Intercept) and shown through the `{pre['window']}`"
        " window (width/level as in `radclass.diagnostic.hounsfield.WINDOWS`); how closely that matches the",
        "  training PNGs' unknown window is untested: prefer PNGs exported like the training set.",
        "",
        f"## Cross-validation ({cfg.folds}-fold stratified, out-of-fold predictions of all "
        f"{trained['n_images']} slices)",
        "",
        "ROC AUC of the pooled out-of-fold probabilities with 95% DeLong CI (`radclass evaluate`), per-fold AUCs,",
        "and the DeLong test of each configuration against the best (paired, same slices).",
        "",
        "| architecture | initialisation | augmented | AUC | 95% CI | fold AUCs | DeLong p vs best |",
        "|---|---|---|---|---|---|---|",
        *(_auc_row(n, r, best) for n, r in results.items()),
        "",
        _findings(results),
        "",
        f"Input {cfg.input_size} px (from {cfg.load_size}), batch {cfg.fit.batch_size}, AdamW + one-cycle, "
        f"up to {cfg.fit.epochs} epochs (+{cfg.fit.frozen_epochs} frozen-backbone epochs for pretrained networks) with "
        f"early stopping on a {cfg.val_fraction:.0%} inner validation split (lowest validation loss from the second "
        f"half of the one-cycle phase on, patience {cfg.fit.patience}), balanced class weights. Augmentation: "
        "rotations 0/±15/±30 degrees, 10% magnification, blur or edge enhancement, random crops, horizontal flips.",
        "Sizes and epochs are far below the paper's (256-pixel inputs, ImageNet weights) to fit two CPU cores.",
        "",
        "## Limits",
        "- 160 slices, no patient grouping, one source: not a clinically validated detector. Do not use for care.",
        "- Slice-level only; no localisation (Grad-CAM overlays in the recipe output show where it looks).",
        "",
        "## Rebuild",
        "`radclass recipe ct-hemorrhage --config configs/ct-hemorrhage.toml --out runs/ct-hemorrhage "
        "--bundle-to src/radclass/bundled/ct-hemorrhage`",
    ]
    path = Path(folder) / "model_card.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fig(f: dict[str, Any] | None) -> str:
    if not f:
        return "n/a (one class only among held-out slices)"
    return (
        f"AUC {f['auc']:.3f} (95% DeLong CI {f['auc_ci95'][0]:.3f}-{f['auc_ci95'][1]:.3f}), "
        f"accuracy {f['accuracy']:.1%}"
    )


def write_liver_card(folder: Path, summary: dict[str, Any]) -> Path:
    """``model_card.md`` of a ``liver-seg-first`` run: data, split, Dice, the classification task and figures."""
    cfg = summary["config"]
    c = summary["classification"]
    figures = c["figures"]
    dice = summary["dice"]
    lines = [
        "# Model card: liver-seg-first (recipe run)",
        "",
        "Two stages on 2D axial slices: a U-Net (MONAI `FlexibleUNet`, ResNet34 encoder, random initialisation"
        + (f", weights {cfg['unet_weights']}" if cfg["unet_weights"] else "")
        + ") segments the liver; a"
        f" {cfg['arch']} classifies the liver-masked slice (backbone frozen, then unfrozen with layer-wise learning"
        " rates, one-cycle schedules).",
        "",
        "## Data",
        f"- Volumes: {', '.join(summary['volumes'])} (the pool's `liver/` folder; IRCAD CT with its liver mask,"
        " TotalSegmentator example CT and MR with their reference segmentations, liver label 5).",
        f"- {summary['n_slices']} slices at {cfg['size']} px (padded square, bilinear; masks nearest). Held out:"
        f" every {cfg['every']}th block of {cfg['block']} consecutive slices, {cfg['gap']} gap slice(s) either side"
        f" unused: {summary['n_held_out']} held-out slices. Neighbouring slices of one volume are correlated, and"
        " only three subjects exist, so the figures say that the pipeline works, not how it generalises.",
        "",
        "## Segmentation (Dice on held-out slices, at the working resolution)",
        "",
        "| slices | Dice |",
        "|---|---|",
        *(f"| {k.replace('_', ' ')} | {v:.3f} |" for k, v in dice.items()),
        "",
        f"U-Net: {summary['n_unet_train']} training slices (all with liver + {cfg['background_fraction']:.0%} as many"
        f" without), {cfg['seg']['epochs']} epochs, Dice + cross-entropy loss, AdamW one-cycle, "
        f"{summary['unet_seconds']} s.",
        "",
        "## Classification stage",
        "- **Task (labels derived honestly from the volumes):** " + c["task"] + ". No public cirrhosis or other"
        " diagnostic labels exist for these volumes; user-supplied labels (`path,label`) train the same way.",
        f"- Slices with at least {cfg['min_liver_fraction']:.0%} of the volume's largest liver area; training"
        f" {c['train_counts']}, held out {c['test_counts']}.",
        f"- Initialisation: {c['pretraining']}; then {cfg['fit']['frozen_epochs']} frozen + {cfg['fit']['epochs']}"
        f" unfrozen epochs, {cfg['input_size']} px crops; {c['seconds']} s.",
        "- Trained on slices masked with the reference mask; held-out slices masked with",
        f"  - the U-Net's prediction (the pipeline): {_fig(figures.get('unet_mask'))};",
        f"  - the reference mask: {_fig(figures.get('reference_mask'))};",
        f"  - DeLong test between the two: p = {figures.get('delong_p_unet_vs_reference')}.",
        "- Grad-CAM overlays (`radclass.explain`) of held-out slices: `gradcam/`; U-Net masks: `segmentation/`.",
        "",
        "## Rebuild",
        "`radclass recipe liver-seg-first --config configs/liver-seg-first.toml --out runs/liver-seg-first`"
        f" ({summary['seconds']} s on this machine's CPU).",
    ]
    path = Path(folder) / "model_card.md"
    path.write_text("\n".join(lines) + "\n")
    return path
