"""The pretraining recipe study (issue 13): pretrain each arm for each wall-clock budget, finetune with one fixed
protocol per task and several seeds, append one CSV row per (arm, budget, task, seed), plot score vs minutes.

    OMP_NUM_THREADS=1 seedformer pretrain-study --budgets 15,60 --seeds 0,1,2 --tasks imdb,conll

Resumable: rows already in --results_csv are skipped and finished pretraining runs in --work_dir are reused, so the
same command continues a stopped study. Every option: `seedformer pretrain-study --help`
(seedformer.pretraining.study.StudyArguments).
"""

import logging
import sys

from transformers import HfArgumentParser

from seedformer.pretraining.study import StudyArguments, run_study, summarize


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    (args,) = HfArgumentParser(StudyArguments).parse_args_into_dataclasses(argv)
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    result = run_study(args)
    print(f"{len(result['written'])} rows written, {result['skipped']} already in {args.results_csv}")
    from seedformer.pretraining.study import read_results

    for (arm, budget, task), s in sorted(summarize(read_results(args.results_csv)).items()):
        print(f"{arm:16s} {budget:6g} min  {task:6s}  {s['mean']:.4f} ± {s['std']:.4f} (n={s['n']})")


if __name__ == "__main__":
    main()
