"""BLEU (Papineni et al., 2002) computed by sacrebleu, with the Hub `bleu` metric's outputs.

Outputs: `bleu` in [0, 1] (multiply by 100 for the usual reporting scale), `precisions` (1- to 4-gram),
`brevity_penalty`, `length_ratio`, `translation_length`, `reference_length`, and `score` = 100 * bleu as sacrebleu
prints it. Corpus-level, 13a tokenisation (the WMT standard), no smoothing, as the Hub `bleu` metric.
Requires `sacrebleu` (`pip install sacrebleu`).
"""

import datasets
import evaluate


class Bleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Corpus BLEU with sacrebleu (13a tokenisation, no smoothing).",
            citation="Post, A Call for Clarity in Reporting BLEU Scores (WMT 2018).",
            inputs_description=(
                "predictions: list of strings; references: list of strings or list of lists of strings (several "
                "references per prediction; all predictions need the same number). tokenize: sacrebleu tokenizer "
                "name ('13a', 'intl', 'none', ...); lowercase: bool."
            ),
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string"),
                        "references": datasets.Sequence(datasets.Value("string")),
                    }
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references, tokenize="13a", lowercase=False, smooth_method="none"):
        import sacrebleu

        references = [[r] if isinstance(r, str) else list(r) for r in references]
        counts = {len(r) for r in references}
        if len(counts) > 1:
            raise ValueError(f"Every prediction needs the same number of references, got {sorted(counts)}.")
        # sacrebleu wants one stream per reference position: refs[k][i] is the k-th reference of prediction i.
        streams = [list(stream) for stream in zip(*references)] if references else [[]]
        result = sacrebleu.corpus_bleu(
            predictions, streams, tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method
        )
        return {
            "bleu": result.score / 100.0,
            "score": result.score,
            "precisions": [p / 100.0 for p in result.precisions],
            "brevity_penalty": result.bp,
            "length_ratio": result.sys_len / result.ref_len if result.ref_len else 0.0,
            "translation_length": result.sys_len,
            "reference_length": result.ref_len,
        }
