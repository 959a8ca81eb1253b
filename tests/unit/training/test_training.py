import threading

import numpy as np
import pytest
import torch

from gtzan_core.errors import ConfigError, DatasetError
from gtzan_core.hparams import make_config
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from gtzan_core.training import checkpoint_model, resolve_device
from tests.helpers import write_squeezenet_weights


def quick(model, **kw):
    kw.setdefault("epochs", 4)
    kw.setdefault("device", "cpu")
    return make_config(model, **kw)


def test_hparams_yaml_defaults_and_overrides():
    cfg = make_config("mlp")  # the paper recipe by default
    assert cfg.recipe == "paper" and cfg.lr == 0.0001 and cfg.epochs == 500 and cfg.protocol == "track"
    assert not cfg.standardize and not cfg.reshuffle and cfg.recipe_changes() == {}
    studio = make_config("cnn", recipe="studio")
    assert studio.lr == 0.001 and studio.standardize and studio.reshuffle
    changed = make_config("cnn", epochs=3)
    assert changed.recipe_changes() == {"epochs": 3}
    assert make_config("cnn", lr=0.5, epochs=None).lr == 0.5  # None keeps the default
    with pytest.raises(ConfigError, match="batch-size must be between 1 and 4096"):
        make_config("cnn", batch_size=0)


def test_training_records_history_and_evaluation(tiny_features):
    store = RunStore()
    epochs = []
    record = train(quick("cnn", epochs=3, patience=5), tiny_features, store, on_epoch=epochs.append)
    assert record["status"] == "finished" and record["epochs_run"] == 3 == len(epochs)
    assert [e.epoch for e in epochs] == [1, 2, 3] and epochs[-1].elapsed > 0
    split = dict(record["split"])
    coverage = split.pop("tracks_per_genre")
    seen = split.pop("seen_tracks")  # the train and validation parts' tracks (2 segments each), for `evaluate --data`
    assert len(seen) == 30 == len(set(seen)) and set(seen) < set(tiny_features.tracks["track_id"])
    assert split == {"train": 40, "val": 20, "test": 20, "unit": "segment", "note": "", "monitor": "validation"}
    assert coverage["train"]["blues"] == 2 and coverage["test"]["rock"] == 1
    # 4 tracks a genre cannot give meaningful numbers: recorded, to be shown beside them
    assert any(w.startswith("test part: fewer than 3 tracks of blues 1") for w in record["split_warnings"])
    assert record["recipe"] == "paper" and record["recipe_changes"]["epochs"] == 3
    ev = record["evaluation"]
    assert ev["segment"]["n"] == 20 and ev["track"]["n"] == 10 and not ev["leaky"]
    assert record["dataset"]["label"] == "synthetic demo" and record["device"] == "cpu"
    assert record["trainable_params"] == 173_682 and record["mfcc_params"]["n_mfcc"] == 13
    assert store.checkpoint_path(record["run_id"]).is_file()


def test_best_checkpoint_is_the_best_validation_epoch(tiny_features):
    store = RunStore()
    record = train(quick("mlp", epochs=12, lr=0.003, patience=20), tiny_features, store)
    losses = [h["val_loss"] for h in record["history"]]
    best = int(np.argmin(losses)) + 1
    assert record["best_epoch"] == best
    ckpt = store.load_checkpoint(record["run_id"])
    assert ckpt["meta"]["epoch"] == best
    assert ckpt["meta"]["val_loss"] == pytest.approx(losses[best - 1])


def test_early_stopping_stops_after_patience(tiny_features):
    # a learning rate this large makes validation loss stop improving quickly
    record = train(quick("mlp", epochs=200, lr=0.5, patience=2), tiny_features, RunStore())
    assert record["early_stopped"] and record["epochs_run"] == record["best_epoch"] + 2 < 200


def test_restored_model_reproduces_validation_loss(tiny_features):
    """The model in the checkpoint is the best-epoch model: re-evaluating it gives that epoch's val loss."""
    from gtzan_core.splits import segment_split

    store = RunStore()
    record = train(quick("gru", epochs=5), tiny_features, store)
    model = checkpoint_model(store.load_checkpoint(record["run_id"]))
    split = segment_split(tiny_features.tracks, tiny_features.samples("mfcc")[1], "track", seed=0, synthetic=True)
    x = torch.from_numpy(tiny_features.samples("mfcc")[0][split.val])
    y = torch.from_numpy(np.array(tiny_features.track_labels[tiny_features.samples("mfcc")[1]][split.val]))
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(x), y).item()
    assert loss == pytest.approx(record["best_val_loss"], rel=1e-4)


def test_cancel_keeps_the_best_checkpoint(tiny_features):
    store = RunStore()
    cancel = threading.Event()

    def on_epoch(e):
        if e.epoch == 2:
            cancel.set()

    record = train(quick("mlp", epochs=50), tiny_features, store, on_epoch=on_epoch, cancel=cancel)
    assert record["status"] == "cancelled" and record["epochs_run"] == 2
    assert store.checkpoint_path(record["run_id"]).is_file() and "evaluation" in record


def test_cancel_before_first_epoch(tiny_features):
    cancel = threading.Event()
    cancel.set()
    record = train(quick("cnn"), tiny_features, RunStore(), cancel=cancel)
    assert record["status"] == "cancelled" and "before the first epoch" in record["error"]


def test_seeded_training_is_reproducible_on_cpu(tiny_features):
    a = train(quick("mlp", epochs=2, seed=5), tiny_features, RunStore())
    b = train(quick("mlp", epochs=2, seed=5), tiny_features, RunStore())
    assert a["history"][-1]["val_loss"] == b["history"][-1]["val_loss"]


def test_paper_protocol_is_labelled_leaky(tiny_features):
    record = train(quick("mlp", epochs=2, protocol="paper"), tiny_features, RunStore())
    assert record["leaky"] and record["evaluation"]["leaky"]
    assert record["split"]["val"] == record["split"]["test"] == 24


def test_filtered_protocol_refused_on_synthetic_data(tiny_features):
    store = RunStore()
    with pytest.raises(DatasetError, match="fault-filtered"):
        train(quick("mlp", protocol="filtered"), tiny_features, store)
    assert store.list()[0]["status"] == "failed"


def test_frozen_image_model_trains_head_on_cached_backbone_outputs(tiny_features_for):
    tiny_features = tiny_features_for("squeezenet")
    store = RunStore()
    # a seed of its own: the random-init backbone (and so its cache entry) is this test's alone
    first = train(quick("squeezenet", epochs=2, seed=4242), tiny_features, store)
    second = train(quick("squeezenet", epochs=2, seed=4242), tiny_features, store)
    assert first["backbone_cached"] is False and second["backbone_cached"] is True
    assert first["pretrained"] is False and "random initialisation" in first["weights_note"]
    assert first["split"]["unit"] == "image" and first["evaluation"]["segment"]["n"] == 10
    # the head was trained on exactly what the full model computes from the image
    from gtzan_core.features import normalize_images

    model = checkpoint_model(store.load_checkpoint(first["run_id"]))
    cached = np.load(max(tiny_features.path.glob("backbone-*.npy"), key=lambda p: p.stat().st_mtime))
    with torch.no_grad():
        direct = model.backbone(normalize_images(tiny_features.samples("image")[0][:3]))
    np.testing.assert_allclose(direct.numpy(), cached[:3], rtol=1e-4, atol=1e-4)


def test_unknown_device():
    with pytest.raises(ConfigError):
        resolve_device("tpu")
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg19", "resnext"])
def test_big_image_models_train_end_to_end(tiny_features_for, name):
    record = train(quick(name, epochs=2), tiny_features_for(name), RunStore())  # (each at its own picture size)
    assert record["status"] == "finished" and record["evaluation"]["segment"]["n"] == 10


def test_full_fine_tuning_updates_the_backbone(tiny_features_for):
    store = RunStore()
    record = train(quick("squeezenet", epochs=1, freeze_backbone=False), tiny_features_for("squeezenet"), store)
    assert record["status"] == "finished" and record["trainable_params"] > 700_000
    assert record["backbone_cached"] is None  # no caching when the backbone trains
    from gtzan_core.models import build_model
    from gtzan_core.training import seed_everything

    seed_everything(0)  # the trainer builds its model right after seeding like this
    initial, _ = build_model("squeezenet", pretrained=False, frozen=False)
    seed_everything(0)
    again, _ = build_model("squeezenet", pretrained=False, frozen=False)
    assert torch.equal(initial.backbone[0].weight, again.backbone[0].weight)
    trained = checkpoint_model(store.load_checkpoint(record["run_id"]))
    assert not torch.equal(initial.backbone[0].weight, trained.backbone[0].weight)


def test_frozen_pretrained_checkpoint_keeps_only_the_head_and_names_its_backbone(tiny_features_for, tmp_path,
                                                                                  monkeypatch):
    from gtzan_core.errors import CheckpointError
    from gtzan_core.models.weights import weights_sha256

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = write_squeezenet_weights(tmp_path / "torch")
    store = RunStore()
    record = train(quick("squeezenet", epochs=2, seed=77), tiny_features_for("squeezenet"), store)
    assert record["pretrained"] is True
    assert record["weights"] == {"weights": "squeezenet1_1 ImageNet (IMAGENET1K_V1)", "file": path.name,
                                 "sha256": weights_sha256(path)}
    ckpt = store.load_checkpoint(record["run_id"])
    assert ckpt["meta"]["backbone"]["sha256"] == weights_sha256(path)
    assert ckpt["state_dict"] and all(k.startswith("head.") for k in ckpt["state_dict"])
    model = checkpoint_model(ckpt)  # backbone from the hub file, head from the checkpoint
    reference = torch.load(path, weights_only=True)
    assert torch.equal(model.backbone[0].weight, reference["features.0.weight"])
    assert torch.equal(model.head[1].weight, ckpt["state_dict"]["head.1.weight"])
    assert not any(p.requires_grad for p in model.backbone.parameters())

    write_squeezenet_weights(tmp_path / "torch", fill=0.02)  # another file under the same name
    with pytest.raises(CheckpointError, match="is not the backbone this run was trained on"):
        checkpoint_model(store.load_checkpoint(record["run_id"]))
    path.unlink()
    with pytest.raises(CheckpointError, match="keeps only its trained head"):
        checkpoint_model(store.load_checkpoint(record["run_id"]))


def test_random_init_backbone_is_stored_whole(tiny_features_for):
    store = RunStore()
    record = train(quick("squeezenet", epochs=1, seed=78), tiny_features_for("squeezenet"), store)
    ckpt = store.load_checkpoint(record["run_id"])
    assert record["pretrained"] is False and ckpt["meta"]["backbone"] is None
    assert any(k.startswith("backbone.") for k in ckpt["state_dict"])


def test_image_model_refuses_features_of_another_size(tiny_features):
    with pytest.raises(ConfigError, match="SqueezeNet takes 256² images; these features hold 224²"):
        train(quick("squeezenet", epochs=1), tiny_features, RunStore())


def test_paper_recipe_keeps_one_sample_order(tiny_features):
    """reshuffle false (the paper's MFCC loop): the same batches every epoch."""
    import gtzan_core.training.trainer as trainer

    seen = []
    real = trainer.run_epoch

    def spy(model, opt, x, y, order, *args, **kw):
        seen.append(order.clone())
        return real(model, opt, x, y, order, *args, **kw)

    for reshuffle in (False, True):
        seen.clear()
        trainer.run_epoch = spy
        try:
            train(quick("mlp", epochs=3, patience=5, reshuffle=reshuffle), tiny_features, RunStore())
        finally:
            trainer.run_epoch = real
        same = all(torch.equal(seen[0], o) for o in seen[1:])
        assert same is (not reshuffle)
