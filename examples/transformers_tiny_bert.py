"""Tune a tiny BERT (built from a config: nothing downloaded) with the Hugging Face Trainer.

The task is synthetic: does a sequence hold more low tokens than high ones?

    rung serve --db rung.db &
    python examples/transformers_tiny_bert.py --server 127.0.0.1:50051 [--checkpoints server]
"""

import argparse

import torch
from scipy import stats
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
from transformers import set_seed

from rung.client import Client
from rung.integrations.transformers import RungCallback, resume_path

parser = argparse.ArgumentParser()
parser.add_argument("--server", default="127.0.0.1:50051")
parser.add_argument("--study", default="tiny-bert")
parser.add_argument("--checkpoints", default="checkpoints", help='a shared folder, or "server"')
parser.add_argument("--max-trials", type=int, default=9)
args = parser.parse_args()
R_MAX, VOCAB, LENGTH = 9, 40, 12

generator = torch.Generator().manual_seed(0)
tokens = torch.randint(1, VOCAB, (640, LENGTH), generator=generator)
labels = ((tokens < VOCAB // 2).sum(1) > LENGTH // 2).long()
data = [{"input_ids": t, "labels": y} for t, y in zip(tokens, labels, strict=True)]
bert = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=LENGTH, num_labels=2)

study = Client(args.server).create_study(
    args.study, space={"learning_rate": stats.loguniform(1e-4, 3e-2), "weight_decay": [0.0, 0.01]},
    metric="eval_loss", r_min=1, r_max=R_MAX, eta=3, max_trials=args.max_trials)
upload = args.checkpoints == "server"  # no shared folder: checkpoints go through the server
for trial in study.trials(checkpoint_dir="scratch" if upload else args.checkpoints):
    with trial:  # heartbeats; an exception fails the trial, SIGTERM hands it back
        set_seed(0)
        training = TrainingArguments(
            f"scratch/hf-{trial.trial_id}", num_train_epochs=R_MAX,  # the LR schedule spans r_max
            eval_strategy="epoch", save_strategy="no", per_device_train_batch_size=32, seed=0,
            use_cpu=True, report_to="none", disable_tqdm=True, logging_strategy="no",
            **trial.config)
        trainer = Trainer(BertForSequenceClassification(bert), training, train_dataset=data[:512],
                          eval_dataset=data[512:], callbacks=[RungCallback(trial, upload=upload)])
        trainer.train(resume_from_checkpoint=resume_path(trial))
print("best:", study.info().incumbent)
