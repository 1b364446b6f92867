"""Model files: only a file signed with our key, with its payload intact, is ever unpickled."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.anomaly.artifact import ModelError, load, local_key, read_manifest, save
from detectors.anomaly.behaviour import Peers
from detectors.anomaly.model import fit
from detectors.anomaly.signin import FEATURES

KEY = b"k" * 32


@pytest.fixture(scope="module")
def bundle():
    rng = np.random.default_rng(3)
    vectors = (rng.random((400, len(FEATURES))) < 0.05).astype(float)
    return {"signin": fit("signin", FEATURES, vectors, Peers({"ws-a": {"asn": ["1136"]}}), {"mode": "test"})}


def test_a_saved_model_loads_with_the_same_scores_and_a_content_version(tmp_path, bundle):
    path = tmp_path / "m.secmon-model"
    version = save(bundle, path, KEY)
    loaded = load(path, KEY)["signin"]
    vector = (0.0,) * 2 + (1.0,) * 3 + (0.0,) * (len(FEATURES) - 5)
    assert loaded.version == version == read_manifest(path, KEY)[0]["version"]
    assert loaded.score(vector) == bundle["signin"].score(vector)
    assert loaded.peers.knows("ws-a", "asn", "1136") and not loaded.peers.knows("ws-b", "asn", "1136")


def test_a_file_signed_with_another_key_is_refused_before_unpickling(tmp_path, bundle):
    path = tmp_path / "m.secmon-model"
    save(bundle, path, b"other-key")
    with pytest.raises(ModelError, match="not signed with this secmon's model key"):
        load(path, KEY)


def test_a_changed_payload_is_refused(tmp_path, bundle):
    path = tmp_path / "m.secmon-model"
    save(bundle, path, KEY)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its signed digest"):
        load(path, KEY)


def test_a_changed_manifest_and_a_foreign_file_are_refused(tmp_path, bundle):
    path = tmp_path / "m.secmon-model"
    save(bundle, path, KEY)
    path.write_bytes(path.read_bytes().replace(b'"format": 1', b'"format": 2', 1))
    with pytest.raises(ModelError, match="not signed"):
        load(path, KEY)
    foreign = tmp_path / "pickle.pkl"
    foreign.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ModelError, match="not a secmon anomaly model"):
        load(foreign, KEY)
    with pytest.raises(ModelError, match="No such file"):
        load(tmp_path / "missing", KEY)


def test_the_local_key_is_created_private_once(tmp_path):
    path = tmp_path / "state" / "anomaly.key"
    with pytest.raises(ModelError, match="does not exist"):
        local_key(path, create=False)
    key = local_key(path, create=True)
    assert len(key) == 64 and local_key(path, create=False) == key
    assert path.stat().st_mode & 0o777 == 0o600
