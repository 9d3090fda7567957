"""Framework callbacks: train with PyTorch Lightning or the Hugging Face Trainer, tuned by rung.

    from rung.integrations.lightning import RungCallback, resume_path, trials
    from rung.integrations.transformers import RungCallback, resume_path

Each callback is a thin adapter over the client SDK (`rung.client`): the SDK keeps
the protocol, retries, heartbeats (`with trial:`) and checkpoint transfer; a
callback maps the framework's hooks (epoch end, save, resume, should-stop) onto
`trial.report`, `trial.checkpoint_out` and `trial.checkpoint_in`. Nothing here is
imported with `rung.integrations` itself, so neither framework is needed until
its module is. docs/integrations.md has the semantics.
"""
