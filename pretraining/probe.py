"""The linear probe a pretraining run reports at each evaluation (`eval_probe_accuracy`): logistic regression on the
encoder's frozen, mean-pooled features of a few labelled texts, so that a user sees the encoder getting useful while
it trains. The recipe study probes its checkpoints the same way.
"""

from __future__ import annotations

import numpy as np
import torch


def encoder_of(model):
    """The Seedformer backbone inside a pretraining model (MLM, MLM+NSP, the ELECTRA pair), or None."""
    if hasattr(model, "discriminator"):
        model = model.discriminator
    return getattr(model, "seedformer", None)


@torch.no_grad()
def mean_pooled_features(
    encoder, tokenizer, texts: list[str], max_length: int = 128, batch_size: int = 32
) -> np.ndarray:
    """(N, hidden) float32: the last hidden states averaged over each text's real tokens (eval mode, no grad)."""
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    out = []
    try:
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[i : i + batch_size], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            batch.pop("token_type_ids", None)
            batch = {k: v.to(device) for k, v in batch.items()}
            hidden = encoder(**batch, return_dict=True).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy())
    finally:
        encoder.train(was_training)
    return np.concatenate(out)


class LinearProbe:
    """Logistic regression (scikit-learn) on frozen mean-pooled features: fit on the first half of the labelled
    texts, accuracy on the second half. A few hundred texts cost a second or two of forward passes."""

    def __init__(self, tokenizer, texts: list[str], labels: list, max_length: int = 128):
        if len(texts) != len(labels) or len(texts) < 4:
            raise ValueError(
                f"The linear probe needs >= 4 labelled texts (and as many labels), got {len(texts)} / {len(labels)}."
            )
        if len(set(labels)) < 2:
            raise ValueError("The linear probe's texts all have the same label.")
        self.tokenizer, self.texts, self.labels, self.max_length = tokenizer, list(texts), list(labels), max_length

    def __call__(self, model) -> float | None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        encoder = encoder_of(model)
        if encoder is None:
            return None
        x = mean_pooled_features(encoder, self.tokenizer, self.texts, self.max_length)
        half = len(x) // 2
        scaler = StandardScaler().fit(x[:half])
        clf = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(x[:half]), self.labels[:half])
        return float(clf.score(scaler.transform(x[half:]), self.labels[half:]))


def load_probe_data(path: str, n: int, text_column: str = "text", label_column: str = "label", seed: int = 0):
    """`n` labelled rows (a seeded shuffle) of a jsonl/json/csv/tsv/parquet file (optionally .gz) -> (texts, labels)."""
    from ..data.readers import DataSource, check_label_column, check_text_column, read_data_file

    data = read_data_file(path, txt_as=None, needs="--probe_file (text and label columns)")
    missing = {text_column, label_column} - set(data.column_names)
    if missing:
        raise ValueError(f"--probe_file {path} lacks the column(s) {sorted(missing)} (it has {data.column_names}).")
    source = DataSource.of("probe", path)
    check_text_column(data, text_column, source, option="--probe_text_column")
    check_label_column(data, label_column, source, option="--probe_label_column")
    data = data.shuffle(seed=seed).select(range(min(n, len(data))))
    return list(data[text_column]), list(data[label_column])
