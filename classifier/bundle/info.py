"""What a bundle is, read from its config.json: the `classifier info` command's facts.

    facts = describe(load("saved_models/default"))   # kind, classes, preset, metrics, versions, hashes
    format_info(facts)                                # the lines `classifier info` prints

Loading checks every recorded file hash first, so the hashes shown are the files' own.
"""

from __future__ import annotations


def describe(bundle) -> dict:
    """The bundle's facts as plain JSON values."""
    meta, cfg = bundle.meta, bundle.config
    generator = meta.get("generator")
    return {
        "path": str(bundle.path),
        "format": meta.get("format"),
        "kind": bundle.kind,
        "classes": bundle.classes_.tolist(),
        "text_column": cfg.text_column,
        "label_column": cfg.label_column,
        "preset": cfg.preset,
        "threshold": None if bundle.multiclass else bundle.threshold,
        "metrics": bundle.metrics,
        "generator": None if not generator else {
            "preset": generator.get("config", {}).get("preset"),
            "metrics": generator.get("metrics", {}),
        },
        "data": meta.get("data", {}),
        "versions": meta.get("versions", {}),
        "tokenizer_sha256": meta.get("tokenizer_sha256"),  # of its words and settings, not of the file
        "files": dict(meta.get("files", {})),  # file name -> sha256, checked when the bundle loaded
        # the packaged word vectors a tfidf bundle reads (classifier.models.vectors), checked when it loaded
        **({"vectors": meta["vectors"]} if "vectors" in meta else {}),
    }


def format_info(facts: dict) -> str:
    """`classifier info`'s lines: one fact a line, figures rounded, hashes in full (sha256)."""
    metrics = facts["metrics"]
    lines = [
        f"bundle     {facts['path']} ({facts['format']})",
        f"kind       {facts['kind']}, preset {facts['preset']}",
        f"classes    {', '.join(map(str, facts['classes']))} (label column {facts['label_column']!r}, "
        f"text column {facts['text_column']!r})",
    ]
    if facts["threshold"] is not None:
        lines.append(f"threshold  {facts['threshold']:g}")
    if "test_loss" in metrics:
        lines.append(f"test       [loss, acc]: [{metrics['test_loss']:.4f}, {metrics['test_accuracy']:.4f}] "
                     f"({metrics.get('n_test', '?')} rows)")
    gen = facts["generator"]
    if gen:
        perplexity = gen["metrics"].get("perplexity")
        said = f", test perplexity {perplexity:.2f}" if perplexity is not None else ""
        lines.append(f"generator  preset {gen['preset']}{said}")
    if facts["data"].get("path"):
        lines.append(f"data       {facts['data']['path']} ({facts['data'].get('rows_used', '?')} rows used)")
    lines.append("versions   " + ", ".join(f"{k} {v}" for k, v in facts["versions"].items()))
    lines.extend(f"sha256     {sha}  {name}" for name, sha in facts["files"].items())
    if facts.get("vectors"):
        v = facts["vectors"]
        lines.append(f"vectors    {v['package']} {v['version']}, read from the installed package")
        lines.extend(f"sha256     {sha}  {v['package']} {part}" for part, sha in v["sha256"].items())
    return "\n".join(lines)
