"""Local hyperparameter search with Optuna over :data:`training.search_space.SEARCH_SPACE`.

Each trial is a short training run (by default 1 epoch on the first 10,000 training images) scored by
validation accuracy, the same objective the SageMaker tuner maximises; the best trial is printed and
written as JSON. Then train the winner for real: ``python -m training.train --lr ... --dropout ...``::

    python -m training.tune --trials 20
    python -m training.tune --trials 2 --epochs 1 --limit 512 --val-size 500   # smoke run
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import optuna

from training.search_space import OBJECTIVE_METRIC, SEARCH_SPACE, Param
from training.train import Config, train

ROOT = Path(__file__).resolve().parent.parent


def suggest(trial: optuna.Trial, param: Param) -> object:
    """Optuna's translation of one search-space entry."""
    if param.kind == "float":
        return trial.suggest_float(param.name, float(param.low), float(param.high), log=param.log)  # type: ignore[arg-type]
    if param.kind == "int":
        return trial.suggest_int(param.name, int(param.low), int(param.high), log=param.log)  # type: ignore[arg-type]
    if param.kind == "categorical":
        return trial.suggest_categorical(param.name, list(param.choices))
    raise ValueError(f"unknown parameter kind {param.kind!r} for {param.name}")


def objective(trial: optuna.Trial, base: Config) -> float:
    """Train one trial in throwaway folders; report each epoch so the pruner can stop bad ones early."""
    params = {p.name.replace("-", "_"): suggest(trial, p) for p in SEARCH_SPACE}
    with tempfile.TemporaryDirectory(prefix=f"trial{trial.number}-") as tmp:
        folders = {"model_dir": f"{tmp}/model", "checkpoint_dir": f"{tmp}/ckpt", "output_data_dir": f"{tmp}/output"}
        config = Config(**{**vars(base), **params, **folders})

        def report(epoch: int, val_accuracy: float) -> None:
            trial.report(val_accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        metadata = train(config, on_epoch=report)
    return float(metadata["metrics"][OBJECTIVE_METRIC])


def tune(trials: int, base: Config, seed: int = 0) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3),
    )
    study.optimize(lambda trial: objective(trial, base), n_trials=trials)
    return study


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per trial")
    parser.add_argument("--limit", type=int, default=10_000, help="training images per trial")
    parser.add_argument("--val-size", type=int, default=Config.val_size)
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (the data split keeps training's seed)")
    parser.add_argument("--data-dir")
    parser.add_argument("--output", type=Path, default=ROOT / ".local" / "tune" / "best.json")
    args = parser.parse_args(argv)

    base = Config(epochs=args.epochs, limit=args.limit, val_size=args.val_size, data_dir=args.data_dir)
    study = tune(args.trials, base, seed=args.seed)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    for t in finished:
        print(f"trial {t.number}: {OBJECTIVE_METRIC}={t.value:.4f} {t.params}")
    best = study.best_trial
    result = {
        "best_value": best.value,
        "best_params": best.params,
        "objective": OBJECTIVE_METRIC,
        "trials": len(study.trials),
        "completed": len(finished),
        "budget": {"epochs": args.epochs, "limit": args.limit, "val_size": args.val_size},
        "train_command": "python -m training.train " + " ".join(f"--{k} {v}" for k, v in best.params.items()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"best trial {best.number}: {OBJECTIVE_METRIC}={best.value:.4f} {best.params}")
    print(f"train it: {result['train_command']}  (written to {args.output})")
    return result


if __name__ == "__main__":
    main()
