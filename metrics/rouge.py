"""ROUGE (Lin, 2004) computed by Google's `rouge_score`, with the Hub `rouge` metric's outputs.

Outputs the F-measure of each requested type (`rouge1`, `rouge2`, `rougeL`, `rougeLsum`; `rougeLsum` splits
summaries into sentences on newlines), averaged over examples with `use_aggregator=True` (the Hub version reports a
bootstrap mid-point, which is this mean up to resampling noise) or a list per example otherwise.
Requires `rouge_score` (`pip install rouge_score`).
"""

import datasets
import evaluate


class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="ROUGE-N / ROUGE-L / ROUGE-Lsum F-measures with rouge_score.",
            citation="Lin, ROUGE: A Package for Automatic Evaluation of Summaries (2004).",
            inputs_description=(
                "predictions: list of strings; references: list of strings (or lists of strings: the best-scoring "
                "reference counts). rouge_types, use_aggregator, use_stemmer, tokenizer as the Hub metric."
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

    def _compute(
        self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False, tokenizer=None
    ):
        from rouge_score import rouge_scorer

        rouge_types = rouge_types or ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer, tokenizer=tokenizer)
        per_example = {name: [] for name in rouge_types}
        for prediction, reference in zip(predictions, references):
            if isinstance(reference, str):
                scores = scorer.score(reference, prediction)
            else:
                scores = scorer.score_multi(list(reference), prediction)
            for name in rouge_types:
                per_example[name].append(scores[name].fmeasure)
        if use_aggregator:
            return {name: (sum(v) / len(v) if v else 0.0) for name, v in per_example.items()}
        return per_example
