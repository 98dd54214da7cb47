"""The settings of a run: one typed source for every default, help text and rule.

Four sections: `model` (exactly what `SpotModel.get_config()` holds), `data`, `training` and
`evaluation`. The entry point defines one flag per setting from these fields (same name, default,
help, choices and bounds), and `RunSettings.validate()` applies every rule, raising a `SettingError`
that names the setting.

A setting is `locked` when changing it would change what a run's checkpoints hold or mean (the
architecture, the damage, the losses, the learning rate, the seeds): a run saved with one value
refuses another (see `spot_tf.run.saved_settings`). The others (steps, evaluation, logging,
strategy, precision) may change from one invocation to the next.
"""
import dataclasses
import typing

from spot_tf.errors import SettingError

PRECISIONS = {"none": None, "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
STRATEGIES = ("default", "mirrored", "multi_worker")
GENERATOR_LOSSES = ("code", "paper")
# The linear-probe presets (spot_tf.training.probe_protocols); the first is the paper's table.
PROBE_PROTOCOLS = ("splitbrain", "deepcluster")


def setting(default, help, *, choices=None, lower=None, upper=None, locked=False):
    """A settings field: its default, its flag's help, the values it takes and whether it is locked."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "lower": lower,
                                                        "upper": upper, "locked": locked})


@dataclasses.dataclass
class ModelSettings:
    """The architecture: the arguments of `SpotModel` (see its docstring)."""

    image_size: int = setting(96, "Training image size (a multiple of 2**ae_depth).", lower=16, locked=True)
    ae_depth: int = setting(4, "Encoder depth: 4 (STL-10) or 5 (ImageNet).", lower=1, upper=5, locked=True)
    keep_prob: float = setting(0.3, "Probability that a feature entry survives the damage (code: 0.3).",
                               lower=0.0, upper=1.0, locked=True)
    disc_padding: str = setting("same", "Discriminator padding.", choices=("same", "valid"), locked=True)
    repair_preactivation: bool = setting(False, "The paper's BN + activation at the start of each repair block.",
                                         locked=True)
    dropout_rate: float = setting(0.5, "Dropout after the discriminator's fc_1 (the original: 0.5).",
                                  lower=0.0, upper=1.0, locked=True)
    sync_batch_norm: bool = setting(False, "Batch-norm statistics over all replicas (original: per replica).")


@dataclasses.dataclass
class DataSettings:
    """Where the images come from."""

    dataset: str = setting("demo", "A TFRecord pattern or directory (ImageNet schema), tfds:NAME, a folder of "
                           "class subfolders, or 'demo' (embedded sample photos).")
    tfds_data_dir: typing.Optional[str] = setting(None, "TFDS data_dir for --dataset=tfds:NAME.")
    data_cache_dir: typing.Optional[str] = setting(None, "Where the demo data is written once "
                                                   "(default ~/.cache/spot_tf).")
    strict_decode: bool = setting(False, "Fail on an image that does not decode instead of skipping it.")
    fused_decode: bool = setting(False, "Decode only the crop window of a training JPEG (the same pixels; measured "
                                 "no faster, and a JPEG corrupt below the window is used).")
    data_service: typing.Optional[str] = setting(
        None, "grpc://HOST:PORT of a tf.data service dispatcher (spot-tf-data-service): its workers decode and "
        "augment the training images of every phase instead of this host's cores.")


@dataclasses.dataclass
class TrainingSettings:
    """The unsupervised phases (autoencoder, spot): objective, schedule, devices, checkpoints, logs."""

    batch_size: int = setting(128, "GLOBAL batch size (split over replicas).", lower=1)
    ae_steps: int = setting(1000, "Autoencoder training steps.", lower=0)
    spot_steps: int = setting(1000, "Spot training steps.", lower=0)
    learning_rate: float = setting(3e-4, "Initial learning rate of the unsupervised phases ('linear' policy).",
                                   lower=0.0, locked=True)
    generator_loss: str = setting("code", "Repair-network loss: 'code' (the reference code: sum of all tower "
                                  "losses) or 'paper'.", choices=GENERATOR_LOSSES, locked=True)
    seed: int = setting(0, "Seed of data order, augmentation, damage masks and dropout.", locked=True)
    ae_checkpoint: typing.Optional[str] = setting(
        None, "Autoencoder for the spot phase (this port's or an original TF1 checkpoint); default: "
        "model_dir/autoencoder.", locked=True)
    strategy: str = setting("default", "tf.distribute strategy; multi_worker reads TF_CONFIG.", choices=STRATEGIES)
    cpu_devices: int = setting(0, "Split the CPU into this many logical devices (to try --strategy=mirrored "
                               "without GPUs).", lower=0)
    mixed_precision: str = setting("none", "Mixed precision of the training phases.", choices=tuple(PRECISIONS))
    xla: bool = setting(False, "jit_compile the train steps.")
    deterministic: bool = setting(False, "TensorFlow op determinism and a fixed data order: two fresh runs of "
                                  "the same command on one device write bitwise equal checkpoints (slower input).")
    checkpoint_every: int = setting(500, "Steps between checkpoints.", lower=1)
    summary_every: int = setting(100, "Steps between TensorBoard summaries.", lower=1)
    keep_checkpoints: int = setting(5, "Checkpoints kept per phase.", lower=1)


@dataclasses.dataclass
class EvaluationSettings:
    """Export, linear probes and fine-tuning."""

    eval_steps: int = setting(0, "Caps the training steps of the linear probes / fine-tuning; 0 = the protocol's "
                              "own length (linear_eval: the probe protocol's epochs; finetune: the original's "
                              "15,600 steps of 128).", lower=0)
    eval_source: typing.Optional[str] = setting(
        None, "What the evaluations evaluate: a spot checkpoint, an original TF1 checkpoint, an exported "
        "SavedModel or 'random' (the spot phase's initial discriminator; default: model_dir/spot).")
    probe_protocol: str = setting("splitbrain", "linear_eval's protocol: 'splitbrain' (the paper's table: Zhang "
                                  "et al.'s split-brain test, 227 px) or 'deepcluster' (its eval_linear, 224 px). "
                                  "Fixes crops, batch size, epochs, learning-rate schedule and weight decay.",
                                  choices=PROBE_PROTOCOLS)
    ten_crop: bool = setting(False, "linear_eval tests on 10 crops (corners and centre, mirrored), their softmax "
                             "averaged, instead of the central crop.")
    eval_image_size: int = setting(0, "Image size of the evaluations (0 = the probe protocol's for linear_eval "
                                   "and knn_eval, --image_size for finetune).", lower=0)
    eval_batch_size: int = setting(0, "Batch size of the evaluations (0 = the protocol's: linear_eval the probe "
                                   "protocol's 256, finetune 128, knn_eval --batch_size).", lower=0)
    eval_precision: str = setting("none", "Precision of export and evaluation, whatever the training phases "
                                  "used ('none' = float32).", choices=tuple(PRECISIONS))
    finetune_layers: int = setting(0, "finetune: number of top conv layers trained (0 = linear).", lower=0, upper=5)
    export_dir: typing.Optional[str] = setting(None, "SavedModel directory (default model_dir/export).")
    export_ema: bool = setting(False, "Export / evaluate the moving-average weights.")


SECTIONS = {"model": ModelSettings, "data": DataSettings, "training": TrainingSettings,
            "evaluation": EvaluationSettings}


def setting_fields():
    """{setting name: (section name, dataclasses.Field)} over every section, in definition order."""
    return {field.name: (section, field) for section, cls in SECTIONS.items() for field in dataclasses.fields(cls)}


def value_type(field):
    """The Python type of a setting's values (int, float, str or bool), Optional unwrapped."""
    hint = typing.get_type_hints(SECTIONS[setting_fields()[field.name][0]])[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


@dataclasses.dataclass
class RunSettings:
    """Every setting of a run, in sections.

    Args:
        model_dir: The run's folder (not a setting of the run: it is where the run is).
        model, data, training, evaluation: The sections (defaults when omitted).
    """

    model_dir: str
    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    data: DataSettings = dataclasses.field(default_factory=DataSettings)
    training: TrainingSettings = dataclasses.field(default_factory=TrainingSettings)
    evaluation: EvaluationSettings = dataclasses.field(default_factory=EvaluationSettings)

    @classmethod
    def from_flat(cls, model_dir, values):
        """Settings from {setting name: value}; names absent keep their defaults, unknown names raise."""
        fields = setting_fields()
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise SettingError(unknown[0], values[unknown[0]], "is not a setting of spot_tf")
        sections = {name: {} for name in SECTIONS}
        for name, value in values.items():
            sections[fields[name][0]][name] = value
        return cls(model_dir, **{name: SECTIONS[name](**kwargs) for name, kwargs in sections.items()})

    def flat(self):
        """{setting name: value} over every section."""
        return {name: getattr(getattr(self, section), name) for name, (section, _) in setting_fields().items()}

    def sections(self):
        """{section name: {setting name: value}} (what config.json holds)."""
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}

    def replace(self, **values):
        """A copy with some settings changed, by name."""
        return RunSettings.from_flat(self.model_dir, {**self.flat(), **values})

    @property
    def eval_image_size(self):
        """finetune's image size (the probes' default is their protocol's)."""
        return self.evaluation.eval_image_size or self.model.image_size

    def validate(self):
        """Checks every rule; raises SettingError naming the first setting at fault. Returns self."""
        values = self.flat()
        for name, (_, field) in setting_fields().items():
            _check_field(field, values[name])
        model = self.model
        if model.image_size % (2 ** model.ae_depth):
            raise SettingError("image_size", model.image_size,
                               f"must be a multiple of 2**ae_depth = {2 ** model.ae_depth}")
        if not 0.0 < model.keep_prob:
            raise SettingError("keep_prob", model.keep_prob, "must be in (0, 1]")
        if not model.dropout_rate < 1.0:
            raise SettingError("dropout_rate", model.dropout_rate, "must be in [0, 1)")
        if self.training.learning_rate <= 0:
            raise SettingError("learning_rate", self.training.learning_rate, "must be positive")
        # Imported here: the geometry rule is the model's own, and `--help` should not load TensorFlow.
        from spot_tf.data.service import parse_address
        from spot_tf.models.spot_model import needs_pool5
        if self.data.data_service is not None:
            parse_address(self.data.data_service)
        try:
            needs_pool5(model.image_size, model.ae_depth, model.disc_padding)
        except ValueError as err:
            raise SettingError("image_size", model.image_size, str(err)) from None
        return self


def _check_field(field, value):
    meta = field.metadata
    if value is None and field.default is None:
        return
    kind = value_type(field)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        if not (kind is float and isinstance(value, int) and not isinstance(value, bool)):
            raise SettingError(field.name, value, f"must be a {kind.__name__}")
    if meta["choices"] is not None and value not in meta["choices"]:
        raise SettingError(field.name, value, f"must be one of {', '.join(meta['choices'])}")
    if meta["lower"] is not None and value < meta["lower"]:
        raise SettingError(field.name, value, f"must be >= {meta['lower']}")
    if meta["upper"] is not None and value > meta["upper"]:
        raise SettingError(field.name, value, f"must be <= {meta['upper']}")
