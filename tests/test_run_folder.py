from spot_tf.run import folder
from spot_tf.settings import RunSettings


def test_phase_folders_and_defaults_of_the_sources():
    settings = RunSettings.from_flat("/runs/a", {})
    assert folder.phase_dir("/runs/a", "spot") == "/runs/a/spot"
    assert folder.logs_dir("/runs/a", "autoencoder") == "/runs/a/autoencoder/logs"
    assert folder.config_path("/runs/a") == "/runs/a/config.json"
    assert folder.export_dir(settings) == "/runs/a/export"
    assert folder.eval_source(settings) == "/runs/a/spot"
    assert folder.autoencoder_source(settings) == "/runs/a/autoencoder"
    given = settings.replace(export_dir="/e", eval_source="/s", ae_checkpoint="/ae")
    assert (folder.export_dir(given), folder.eval_source(given), folder.autoencoder_source(given)) == ("/e", "/s", "/ae")
