"""POST /v1/models/NAME:explain: a real server process, the answers equal Bundle.explain's in this process
(to 1e-5 after JSON), :predict's limits and errors. The page's highlighting is in test_serve_browser.py."""

from __future__ import annotations

import pytest

import classifier
from tests.conftest import committed_bundle
from tests.serve_process import start_server

DEFAULT = committed_bundle("default")
PATH = "/v1/models/default:explain"
TEXTS = ["Love this dress, it fits perfectly!", "", "The zipper broke after one wash. Returning it.", "qzxv 😍"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("serve"), "--model", str(DEFAULT), "--max-items", "50")
    yield s
    assert s.stop() == 0, s.output()


def test_explain_endpoint_answers_what_the_python_api_does(server):
    r = server.post(PATH, {"instances": TEXTS, "top": 2})
    assert r.status_code == 200, r.text
    got = r.json()["explanations"]
    want = classifier.load(DEFAULT).explain(TEXTS, top=2)
    assert len(got) == len(want) == 4
    for g, w in zip(got, want, strict=True):
        assert g["status"] == w.status
        assert [x["word"] for x in g["words"]] == [x.word for x in w.words]
        assert [(x["start"], x["end"]) for x in g["words"]] == [(x.start, x.end) for x in w.words]
        if w.status == "empty":
            assert g["label"] is None and g["proba"] is None
            continue
        assert g["label"] == w.label and g["proba"] == pytest.approx(w.proba, abs=1e-5)
        assert g["base"] == pytest.approx(w.base, abs=1e-5) and g["logit"] == pytest.approx(w.logit, abs=1e-5)
        assert [x["contribution"] for x in g["words"]] == pytest.approx([x.contribution for x in w.words], abs=1e-5)
        assert g["top_for"] == [x.position for x in w.top_for] and len(g["top_for"]) <= 2
        assert g["top_against"] == [x.position for x in w.top_against]
    first = got[0]
    assert first["label"] == 1 and first["words"][first["top_for"][0]]["word"] in {"love", "perfectly"}
    assert got[3]["status"] == "no_known_words" and all(x["contribution"] == 0 for x in got[3]["words"])
    # TF Serving's columnar `inputs` too
    assert server.post(PATH, {"inputs": TEXTS[:1]}).json()["explanations"][0]["label"] == 1


def test_explain_endpoint_has_the_predict_limits_and_errors(server):
    r = server.post(PATH, {"instances": ["good"] * 51})
    assert r.status_code == 413 and "50" in r.json()["error"]
    assert server.post(PATH, {"instances": ["good"] * 50}).status_code == 200  # the limit itself
    for body in ({"instances": "one string"}, {"instances": ["a"], "top": -1}, {"instances": ["a"], "tpo": 3},
                 {"instances": [3]}, {}):
        r = server.post(PATH, body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]
    r = server.post("/v1/models/nosuch:explain", {"instances": ["a"]})
    assert r.status_code == 404 and "nosuch" in r.json()["error"]
