"""Steering experts: DExperts-style sentiment control without reranking, trained into a bundle.

    python -m classifier train-generator --experts-only --model saved_models/default

Two small whole-review LSTMs on the bundle's tokenizer, one on the recommended training reviews
and one on the not-recommended ones. Asked for a sentiment, generation adds
strength x (expert - anti-expert) to the base generator's next-word logits (Liu et al. 2021),
so no candidate is ranked. They are trained on the base generator's training reviews only; its
validation reviews choose the strength: the smallest whose samples a judge puts on the asked-for
side at least as often as the real validation reviews of that side (cut to the samples' length),
while their distinct-2 stays within a tenth of the unsteered samples'. The base generator's files
are untouched, so its unsteered text stays the same.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from classifier.bundle import EXPERT_FILES, load, update_bundle, update_meta
from classifier.config import GeneratorConfig, expert_preset
from classifier.engine.generator import SENTIMENTS
from classifier.errors import UserError
from classifier.models.keras_lstm import save_keras
from classifier.textgen.data import review_split, split_texts
from classifier.textgen.evaluate import distinct_2, on_side, real_reference, resolve_data, sample_side
from classifier.textgen.train import export_weights, fit, net_spec

STRENGTHS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)  # tried in order; the smallest that reaches the goal is kept
SELECTION_SAMPLES = 100  # samples a side for each strength tried
DISTINCT_SHARE = 0.9  # steered distinct-2 at least this share of the unsteered one


def choose_strength(bundle, judge, val_texts, val_labels, samples: int = SELECTION_SAMPLES, words: int = 40,
                    strengths=STRENGTHS, seed: int = 7) -> tuple[float, dict]:
    """The strength to record, and the figures of every strength tried (on the validation reviews)."""
    real = real_reference(judge, bundle.tokenizer, val_texts, val_labels, words)
    rows = []
    for strength in (0.0, *strengths):
        row, conts = {"strength": strength}, []
        for sentiment in SENTIMENTS:
            got, _ = sample_side(bundle, sentiment, samples, words, seed=seed, strength=strength)
            row[sentiment] = on_side(judge, [s.text for s in got], sentiment)
            conts += [s.continuation for s in got]
        row["distinct_2"] = distinct_2(conts)
        rows.append(row)
    unsteered, tried = rows[0], rows[1:]
    diverse = [r for r in tried if r["distinct_2"] >= DISTINCT_SHARE * unsteered["distinct_2"]] or tried[:1]
    reach = [r for r in diverse if all(r[s] >= real[s] for s in SENTIMENTS)]
    # else the one nearest the goal on its weaker side
    best = reach[0] if reach else max(diverse, key=lambda r: min(r[s] - real[s] for s in SENTIMENTS))
    return best["strength"], {"judge": str(judge.path), "threshold": judge.threshold, "samples_per_side": samples,
                              "words": words, "real": real, "tried": rows}


def train_experts(model_dir, data=None, cfg: GeneratorConfig | None = None, judge=None, verbose: int = 1,
                  selection_samples: int = SELECTION_SAMPLES, out=None) -> dict:
    """Train the expert and anti-expert of the bundle at `model_dir` (or, given `out`, of a copy of
    it there), choose their strength (judged by `judge`, a loaded bundle, default the bundle's own
    classifier) and record them in it; the base generator's files are not rewritten."""
    cfg = cfg or expert_preset()
    bundle = load(model_dir)
    if out is not None and Path(out).resolve() != Path(model_dir).resolve():
        bundle = load(bundle.save(out))
    model_dir = bundle.path
    gen = bundle.meta.get("generator")
    if not gen:
        raise UserError(f"{model_dir} has no generator to steer; train one first with "
                        f"`classifier train-generator --model {model_dir}`")
    base = GeneratorConfig.from_dict(gen["config"])
    if base.context:
        raise UserError(f"the generator in {model_dir} is a window model ({base.preset} preset); the experts "
                        f"steer whole-review generators (the default preset)")
    if bundle.multiclass:
        raise UserError(f"{model_dir} is a multi-class bundle; the experts need 0/1 labels")
    data = resolve_data(bundle, data)
    texts, labels, _ = split_texts(data, bundle.config, base.text_column)
    if labels is None:
        raise UserError(f"{data} has no label column {bundle.config.label_column!r}; the experts need it")
    # the base generator's own validation reviews are held out of the experts and choose the strength
    # (the base's own texts are the first max_texts of the split; the experts may read the rest too)
    seqs = bundle.tokenizer.encode_many(texts[: base.max_texts])
    nonempty = [i for i, s in enumerate(seqs) if s]
    _, _, _, val_idx = review_split(base, seqs, labels[: base.max_texts], bundle.tokenizer.config.num_words)
    val_rows = sorted(nonempty[i] for i in val_idx)
    train_rows = sorted(set(range(len(texts))) - set(val_rows))
    if not val_rows:
        raise UserError("the base generator has no validation reviews to choose the strength on; "
                        "retrain it with a validation split")
    models, metrics, start = {}, {}, time.perf_counter()
    for k, side in enumerate(SENTIMENTS):
        side_texts = [texts[i] for i in train_rows if labels[i] == k][: cfg.max_texts]
        if len(side_texts) < 2:
            raise UserError(f"{data}: fewer than 2 {side} training reviews; the experts need both classes")
        began = time.perf_counter()
        models[side], history = fit(cfg, bundle.tokenizer, side_texts, None, verbose)
        metrics[side] = {"n_train": len(side_texts), "epochs_run": len(history),
                         "train_seconds": round(time.perf_counter() - began, 1),
                         "val_loss": round(min(h.get("val_loss", float("inf")) for h in history), 4)}
    arrays, acts = export_weights(models["positive"])
    spec = net_spec(cfg, bundle.tokenizer.config.num_words, acts)
    record = {"config": cfg.to_dict(), "spec": spec, "strength": 0.0,
              "metrics": {"train_seconds": round(time.perf_counter() - start, 1),
                          "parameters": int(models["positive"].count_params()), **metrics}}

    def write_files(folder):
        for side, name in EXPERT_FILES.items():
            save_keras(models[side], folder / name)
        return list(EXPERT_FILES.values())

    update_bundle(bundle.path, write_files, generator={**gen, "experts": record})
    steered = load(bundle.path)
    strength, selection = choose_strength(steered, judge or steered, [texts[i] for i in val_rows],
                                          [labels[i] for i in val_rows], selection_samples)
    record.update(strength=strength, selection=selection)
    update_meta(bundle.path, "generator", experts=record)
    if verbose:
        print(f"experts: strength {strength:g} chosen on {len(val_rows):,} validation reviews", file=sys.stderr)
    return record
