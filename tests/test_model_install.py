"""Installing from a folder or archive (the offline route), exporting checkpoints, the model commands,
and the one-line errors every damaged input must give."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pixseek.errors import ModelInvalid, ModelNotInstalled, PixseekError
from pixseek.cli.models import add_model_commands
from pixseek.model.bundle import CONFIG_NAME, Bundle, find_bundle, installed_bundles
from pixseek.model.encoder import Encoder
from pixseek.model.install import install_from_path
from pixseek.model.known_models import DEFAULT_MODEL
from pixseek.model.quantize import INT8_IMAGE_MODEL, INT8_TEXT_MODEL
from pixseek.model.samples import generated_photos


def quiet(message: str) -> None:
    pass


def models(home: Path) -> list[str]:
    """Everything in the models folder but lock files, hidden staging folders included."""
    return sorted(p.name for p in (home / "models").iterdir() if not p.name.endswith(".lock"))


@pytest.fixture
def empty_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PIXSEEK_HOME", str(home))
    for name in ("PIXSEEK_MODEL", "PIXSEEK_MODELS", "PIXSEEK_INDEX"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def bundle_copy(tmp_path, tiny_bundle_dir) -> Path:
    """A copy of the tiny bundle that a test may damage."""
    return Path(shutil.copytree(tiny_bundle_dir, tmp_path / "copied-in" / "clip-bundle"))


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="pixseek")
    add_model_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _set_config(folder: Path, **changes) -> None:
    config = json.loads((folder / CONFIG_NAME).read_text())
    config.update(changes)
    (folder / CONFIG_NAME).write_text(json.dumps(config))


# -- installing ---------------------------------------------------------------------------------


def test_install_folder_as_default_model_and_encode(empty_home, bundle_copy):
    messages = []
    bundle = install_from_path(bundle_copy, report=messages.append)
    assert bundle.path == empty_home / "models" / DEFAULT_MODEL
    assert find_bundle().path == bundle.path
    assert any("int8 vs fp32 image tower on 64 photos" in m for m in messages), messages
    assert any("int8 vs fp32 text tower on 120 captions" in m for m in messages), messages
    assert bundle.config.precision == "int8" and bundle.config.image_variants == {"fp32": "image.onnx"}
    assert bundle.config.text_precision == "int8" and bundle.config.text_variants == {"fp32": "text.onnx"}
    vectors = Encoder(bundle).encode_texts(["a dog"])
    assert vectors.shape == (1, 32) and np.isclose(np.linalg.norm(vectors), 1, atol=1e-5)
    assert models(empty_home) == [DEFAULT_MODEL]


def test_stray_files_are_not_installed(empty_home, bundle_copy):
    (bundle_copy / "notes.txt").write_text("mine")
    bundle = install_from_path(bundle_copy, precision="fp32", report=quiet)
    assert not (bundle.path / "notes.txt").exists()
    assert not (bundle.path / INT8_IMAGE_MODEL).exists() and bundle.config.precision == "fp32"


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_install_from_archive_with_nested_folder(empty_home, bundle_copy, tmp_path, kind):
    archive = tmp_path / f"model.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for f in bundle_copy.iterdir():
                zf.write(f, f"pixseek-models/clip-bundle/{f.name}")
    else:
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(bundle_copy, arcname="clip-bundle")
    bundle = install_from_path(archive, name="from-archive", precision="fp32", report=quiet)
    assert bundle.model_id == Bundle.load(bundle_copy).model_id
    assert models(empty_home) == ["from-archive"]


def test_install_checkpoint_folder_exports_it(empty_home, tiny_checkpoint_dir):
    bundle = install_from_path(tiny_checkpoint_dir, name="exported", precision="fp32", report=quiet)
    assert bundle.model_id == tiny_checkpoint_dir.name  # no hub id in a save_pretrained folder
    assert Encoder(bundle).encode_texts(["x"]).shape == (1, 32)


def test_reinstall_replaces_the_old_bundle(empty_home, bundle_copy):
    install_from_path(bundle_copy, name="m", precision="fp32", report=quiet)
    _set_config(bundle_copy, model_id="second")
    second = install_from_path(bundle_copy, name="m", precision="fp32", report=quiet)
    assert find_bundle("m").model_id == "second" == second.model_id
    assert models(empty_home) == ["m"]


def test_int8_towers_that_disagree_with_fp32_are_dropped(empty_home, bundle_copy):
    """A bundle whose shipped int8 towers went wrong (weights scrambled): the checks must catch
    both and keep fp32, without quantizing anew."""
    import onnx
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    for fp32, int8 in (("image.onnx", INT8_IMAGE_MODEL), ("text.onnx", INT8_TEXT_MODEL)):
        model = onnx.load(str(bundle_copy / fp32))
        for i, tensor in enumerate(model.graph.initializer):
            weights = numpy_helper.to_array(tensor)
            if weights.dtype == np.float32 and weights.ndim == 2 and weights.shape[0] < 1000:  # not the token embedding
                model.graph.initializer[i].CopyFrom(numpy_helper.from_array(rng.permutation(weights), tensor.name))
        onnx.save(model, str(bundle_copy / int8))
    _set_config(bundle_copy, image_variants={"int8": INT8_IMAGE_MODEL}, text_variants={"int8": INT8_TEXT_MODEL})
    messages = []
    bundle = install_from_path(bundle_copy, name="checked", report=messages.append)
    assert (bundle.config.precision, bundle.config.image_variants) == ("fp32", {})
    assert (bundle.config.text_precision, bundle.config.text_variants) == ("fp32", {})
    assert not (bundle.path / INT8_IMAGE_MODEL).exists() and not (bundle.path / INT8_TEXT_MODEL).exists()
    assert sum("rejected" in m for m in messages) == 2, messages
    assert any("fp32 image tower stays" in m for m in messages) and any("fp32 text tower stays" in m for m in messages)
    assert not any("quantizing" in m for m in messages)  # shipped int8 towers are checked, not redone


def test_outlier_channel_defeats_int8_and_fp32_is_kept(empty_home, bundle_copy):
    """Real CLIP towers have activation channels of huge magnitude, which per-tensor int8
    activations cannot represent. Build one into the tiny model without changing what fp32
    computes (a LayerNorm channel scaled up, the rows that read it scaled down): every int8
    setting must then be rejected."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(bundle_copy / "image.onnx"))
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    aliases = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}  # the exporter shares equal tensors

    def rescale(node, index, channel, factor):
        """Give `node` its own copy of input `index`, with one channel (first axis) multiplied."""
        name = node.input[index]
        array = numpy_helper.to_array(initializers[aliases.get(name, name)]).copy()
        array[channel] *= factor
        graph.initializer.append(numpy_helper.from_array(array, f"{node.name}/outlier{index}"))
        node.input[index] = f"{node.name}/outlier{index}"

    norm = next(n for n in graph.node if n.op_type == "LayerNormalization" and "layers.0/layer_norm1" in n.name)
    readers = [n for n in graph.node if n.op_type == "MatMul" and n.input[0] == norm.output[0]]
    assert len(readers) == 3  # q, k and v projections
    for index in (1, 2):
        rescale(norm, index, 5, 2000.0)
    for reader in readers:
        rescale(reader, 1, 5, 1 / 2000.0)
    onnx.save(model, str(bundle_copy / "outlier.onnx"))
    photos = list(generated_photos(8))
    before = Encoder(Bundle.load(bundle_copy)).encode_images(photos)
    _set_config(bundle_copy, image_model="outlier.onnx")
    after = Encoder(Bundle.load(bundle_copy)).encode_images(photos)
    assert np.sum(before * after, axis=1).min() > 0.9999  # fp32 computes the same function
    messages = []
    bundle = install_from_path(bundle_copy, name="outlier", report=messages.append)
    assert bundle.config.precision == "fp32" and not (bundle.path / INT8_IMAGE_MODEL).exists()
    print("\n" + "\n".join(messages))
    assert sum("rejected" in m for m in messages) == 2, messages


# -- damaged inputs -----------------------------------------------------------------------------


DAMAGE = {
    "truncated image tower": (lambda b: _truncate(b / "image.onnx"), "cannot load"),
    "truncated text tower": (lambda b: _truncate(b / "text.onnx"), "cannot load"),
    "missing text tower": (lambda b: (b / "text.onnx").unlink(), "text.onnx is missing"),
    "damaged config": (lambda b: (b / CONFIG_NAME).write_text("{not json"), "is damaged"),
    "future format": (lambda b: _set_config(b, format=99), "format 99 is not supported"),
    "garbage tokenizer": (lambda b: (b / "tokenizer.json").write_text("[]"), "cannot load its tokenizer"),
    "wrong dimension": (lambda b: _set_config(b, embedding_dim=64), r"not \(64,\)"),
    "path outside the bundle": (lambda b: _set_config(b, text_model="../../text.onnx"), "not a file name in the bundle"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_bundle_is_refused_in_one_line(empty_home, bundle_copy, damage):
    spoil, expected = DAMAGE[damage]
    spoil(bundle_copy)
    with pytest.raises(ModelInvalid, match=expected) as err:
        install_from_path(bundle_copy, report=quiet)
    assert "\n" not in str(err.value)
    assert models(empty_home) == []


def test_bad_sources_are_refused_in_one_line(empty_home, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("README.md", "no model here")
    (tmp_path / "cut.zip").write_bytes((tmp_path / "empty.zip").read_bytes()[:20])
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../evil/pixseek-model.json", "{}")
    (tmp_path / "plain-folder").mkdir()
    cases = {
        tmp_path / "missing": "does not exist",
        tmp_path / "notes.txt": "is not a model folder or an archive",
        tmp_path / "empty.zip": "holds no model in a layout pixseek knows",
        tmp_path / "cut.zip": "cannot unpack",
        tmp_path / "evil.zip": "unsafe path",
        tmp_path / "plain-folder": "holds no model in a layout pixseek knows",
    }
    for source, expected in cases.items():
        with pytest.raises(ModelInvalid, match=expected) as err:
            install_from_path(source, report=quiet)
        assert "\n" not in str(err.value)
    assert not (tmp_path / "evil").exists()
    assert models(empty_home) == []


def test_killed_install_leftovers_are_ignored_then_swept(empty_home, bundle_copy):
    stale = empty_home / "models" / f".staging-{DEFAULT_MODEL}-deadbeef"
    other = empty_home / "models" / f".staging-{DEFAULT_MODEL}-other-c0ffee12"  # model "clip-vit-b-32-other" installing
    other.mkdir(parents=True)
    shutil.copytree(bundle_copy, stale / DEFAULT_MODEL)
    for item in bundle_copy.iterdir():  # even a complete-looking bundle there is not a model
        shutil.copy(item, stale / item.name)
    assert installed_bundles() == []
    install_from_path(bundle_copy, precision="fp32", report=quiet)
    assert models(empty_home) == [other.name, DEFAULT_MODEL]


def test_missing_model_messages_say_how_to_install(empty_home):
    with pytest.raises(ModelNotInstalled) as err:
        find_bundle()
    assert "`pixseek model install`" in str(err.value) and "--from PATH" in str(err.value)
    with pytest.raises(ModelNotInstalled, match="my-clip --repo OWNER/REPO.*pixseek model install my-clip --from PATH"):
        find_bundle("my-clip")
    with pytest.raises(ModelNotInstalled, match="`pixseek model install`"):
        find_bundle(model_id="openai/clip-vit-base-patch32")
    with pytest.raises(ModelNotInstalled, match="`pixseek model install siglip-vit-b-16`"):
        find_bundle(model_id="timm/ViT-B-16-SigLIP")


# -- commands ------------------------------------------------------------------------------------


def test_commands_install_list_export(empty_home, bundle_copy, tiny_checkpoint_dir, capsys):
    assert run_cli("model", "list") == 0
    assert "no model installed" in capsys.readouterr().out
    assert run_cli("model", "install", "--from", str(bundle_copy), "--precision", "fp32") == 0
    assert run_cli("model", "export", str(tiny_checkpoint_dir), "--name", "exported", "--precision", "fp32") == 0
    capsys.readouterr()
    assert run_cli("model", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("* clip-vit-b-32") and "MB" in lines[0] and "random/tiny-seed0" in lines[0]
    assert lines[1].startswith("    warning: random/tiny-seed0 has random weights")  # the random stand-in says so
    assert lines[2].startswith("  exported") and "fp32" in lines[2]


def test_command_errors_are_pixseek_errors(empty_home, tmp_path):
    with pytest.raises(PixseekError, match="does not exist"):
        run_cli("model", "install", "--from", str(tmp_path / "nothing"))
    with pytest.raises(PixseekError, match="not in pixseek's catalogue"):
        run_cli("model", "install", "some-other-model")
    with pytest.raises(PixseekError, match="photos folder .* does not exist"):
        run_cli("model", "install", "--from", str(tmp_path), "--photos", str(tmp_path / "no-photos"))


def test_mounting_the_commands_imports_nothing_heavy():
    """The CLI builds its parser for every command, `pixseek search` included."""
    code = ("import sys, argparse; from pixseek.cli.models import add_model_commands; "
            "add_model_commands(argparse.ArgumentParser().add_subparsers()); "
            "print(' '.join(m for m in ('torch', 'transformers', 'onnxruntime', 'huggingface_hub', 'onnx', 'numpy', 'PIL')"
            " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
    from pixseek.model import Encoder, export_random, install_from_path

    assert Encoder.__name__ == "Encoder" and callable(export_random) and callable(install_from_path)
