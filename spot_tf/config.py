"""The settings of a run (what train_scripts/train_spot.py's flags fill in)."""
import dataclasses

PHASES = ("autoencoder", "spot", "export", "linear_eval", "finetune", "all")
MIXED_PRECISION = {"none": None, "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


@dataclasses.dataclass
class RunConfig:
    """Every setting of a run; defaults are the original STL-10 code's where it has one.

    Attributes mirror the flags of train_spot.py (see its --help).
    """

    model_dir: str
    dataset: str = "demo"
    tfds_data_dir: str = None
    data_cache_dir: str = None
    image_size: int = 96
    ae_depth: int = 4
    batch_size: int = 128
    ae_steps: int = 1000
    spot_steps: int = 1000
    eval_steps: int = 1000
    learning_rate: float = 3e-4
    strategy: str = "default"
    checkpoint_every: int = 500
    summary_every: int = 100
    keep_checkpoints: int = 5
    generator_loss: str = "code"
    keep_prob: float = 0.3
    disc_padding: str = "same"
    repair_preactivation: bool = False
    sync_batch_norm: bool = False
    mixed_precision: str = "none"
    xla: bool = False
    seed: int = 0
    strict_decode: bool = False
    ae_checkpoint: str = None
    export_dir: str = None
    export_ema: bool = False
    eval_source: str = None
    finetune_layers: int = 0
    eval_image_size: int = 0
    eval_batch_size: int = 0

    def validate(self):
        """Raises ValueError naming the flag at fault."""
        def need(ok, flag, value, what):
            if not ok:
                raise ValueError(f"--{flag}={value!r}: {what}")
        need(self.image_size > 0 and self.image_size % (2 ** self.ae_depth) == 0, "image_size", self.image_size,
             f"must be a positive multiple of 2**ae_depth = {2 ** self.ae_depth}")
        need(self.ae_depth in (4, 5) or 1 <= self.ae_depth <= 5, "ae_depth", self.ae_depth, "must be 1..5 (4 or 5)")
        need(self.batch_size > 0, "batch_size", self.batch_size, "must be positive")
        for flag in ("ae_steps", "spot_steps", "eval_steps"):
            need(getattr(self, flag) >= 0, flag, getattr(self, flag), "must be >= 0")
        for flag in ("checkpoint_every", "summary_every", "keep_checkpoints"):
            need(getattr(self, flag) > 0, flag, getattr(self, flag), "must be positive")
        need(self.learning_rate > 0, "learning_rate", self.learning_rate, "must be positive")
        need(0 < self.keep_prob <= 1, "keep_prob", self.keep_prob, "must be in (0, 1]")
        need(self.generator_loss in ("code", "paper"), "generator_loss", self.generator_loss, "must be code or paper")
        need(self.mixed_precision in MIXED_PRECISION, "mixed_precision", self.mixed_precision,
             f"must be one of {', '.join(MIXED_PRECISION)}")
        need(self.disc_padding in ("same", "valid"), "disc_padding", self.disc_padding, "must be same or valid")
        need(0 <= self.finetune_layers <= 5, "finetune_layers", self.finetune_layers, "must be 0..5")
        need(self.strategy in ("default", "mirrored", "multi_worker"), "strategy", self.strategy,
             "must be default, mirrored or multi_worker")
        return self
