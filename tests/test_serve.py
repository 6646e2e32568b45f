"""The translation service: in-process (TestClient) and one real uvicorn on 127.0.0.1 under concurrent load."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from fastapi.testclient import TestClient  # noqa: E402

from vecbridge.serve import create_app  # noqa: E402
from vecbridge.translators.linear import LeastSquares, Procrustes  # noqa: E402

D_IN, D_OUT = 10, 6


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, D_IN)).astype(np.float32)
    Y = (X @ rng.standard_normal((D_IN, D_OUT)) + 1).astype(np.float32)
    root = tmp_path_factory.mktemp("maps")
    a = LeastSquares(bias=True).fit(X, Y)
    b = Procrustes(normalize="unit").fit(X, X @ np.linalg.qr(rng.standard_normal((D_IN, D_IN)))[0])
    a.save(root / "old2new")
    b.save(root / "rotate")
    return root, {"old2new": a, "rotate": b}


@pytest.fixture(scope="module")
def client(maps):
    root, _ = maps
    app = create_app(root, max_rows=100, max_body_bytes=64 * 1024)
    with TestClient(app) as c:
        yield c


def test_health_and_maps(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["maps"] == ["old2new", "rotate"]
    info = {m["name"]: m for m in client.get("/maps").json()}
    assert info["old2new"]["dim_in"] == D_IN and info["old2new"]["dim_out"] == D_OUT
    assert info["rotate"]["method"] == "procrustes"


def test_translate_matches_the_map(client, maps):
    _, loaded = maps
    X = np.random.default_rng(1).standard_normal((7, D_IN)).astype(np.float32)
    r = client.post("/translate", json={"map": "old2new", "vectors": X.tolist()})
    assert r.status_code == 200
    body = r.json()
    assert body["n"] == 7 and body["dim"] == D_OUT and body["map"] == "old2new"
    np.testing.assert_allclose(np.array(body["vectors"], np.float32), loaded["old2new"].transform(X), atol=1e-5)
    r = client.post("/maps/rotate/translate", json={"vectors": X[0].tolist()})  # one flat vector
    assert r.status_code == 200
    np.testing.assert_allclose(r.json()["vectors"][0], loaded["rotate"].transform(X[:1])[0], atol=1e-5)


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"vectors": [[0.0] * D_IN]}).encode(), 400, "which map"),
        (json.dumps({"map": "nope", "vectors": [[0.0] * D_IN]}).encode(), 404, "unknown map"),
        (json.dumps({"map": "old2new", "vectors": []}).encode(), 400, "non-empty"),
        (json.dumps({"map": "old2new", "vectors": [[0.0] * (D_IN + 1)]}).encode(), 422, f"takes {D_IN}-d"),
        (json.dumps({"map": "old2new", "vectors": [[0.0] * D_IN, [1.0] * 3]}).encode(), 422, "vector 1 has 3"),
        (json.dumps({"map": "old2new", "vectors": [["a"] * D_IN]}).encode(), 422, "numbers"),
        (json.dumps({"map": "old2new", "vectors": [[float("nan")] * D_IN]}).encode(), 422, "NaN"),
        (json.dumps({"map": "old2new", "vectors": [[0.0] * D_IN] * 101}).encode(), 413, "limit is 100"),
        (json.dumps({"map": "old2new", "vectors": [[0.123456789] * D_IN] * 90 * 10}).encode(), 413, "bytes"),
        # issue 23: never a 500 for client input
        (b'{"map": "old2new", "vectors": [[' + str(10**400).encode() + b"]]}", 422, "too large"),
        (b'{"map": "old2new", "vectors": [[1e39' + b", 0" * (D_IN - 1) + b"]]}", 422, "too large for float32"),
        (b'{"map": "old2new", "vectors": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", 400, "not valid JSON"),  # deep
        (json.dumps({"map": "old2new", "vectors": [["1.5"] * D_IN]}).encode(), 422, "numbers only"),
        (json.dumps({"map": "old2new", "vectors": [[True] * D_IN]}).encode(), 422, "numbers only"),
        (json.dumps({"map": 7, "vectors": [[0.0] * D_IN]}).encode(), 400, '"map" must be'),
        (json.dumps({"map": "old2new", "vectors": "abc"}).encode(), 400, "non-empty list"),
        (json.dumps({"map": "old2new", "vectors": [[0.0] * D_IN, 5]}).encode(), 400, "vector 1 is not a list"),
    ],
)
def test_client_errors_are_clear(client, body, status, words):
    r = client.post("/translate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


def test_errors_name_the_field(client):
    body = {"map": "old2new", "vectors": [[0.0] * D_IN, [0.0] * 3 + ["x"] + [0.0] * (D_IN - 4)]}
    r = client.post("/translate", json=body)
    assert r.status_code == 422 and r.json()["field"] == "vectors[1][3]" and '"x"' in r.json()["error"]  # as sent
    r = client.post("/translate", json={"map": "old2new", "vectors": [[0.0] * (D_IN + 2)]})
    assert r.status_code == 422 and r.json()["field"] == "vectors[0]"
    r = client.post("/translate", json={"map": "nope", "vectors": [[0.0] * D_IN]})
    assert r.status_code == 404 and r.json()["field"] == "map"


def test_one_flat_vector_is_named_as_sent_and_the_path_and_body_must_agree(client):
    flat = [0.1] * D_IN
    flat[3] = "x"
    r = client.post("/translate", json={"map": "old2new", "vectors": flat})
    assert r.status_code == 422 and r.json()["field"] == "vectors[3]" and '"x"' in r.json()["error"]
    r = client.post("/translate", json={"map": "old2new", "vectors": [0.1, [0.1] * D_IN]})
    assert r.status_code == 422 and r.json()["field"] == "vectors[1]"
    r = client.post("/translate", json={"map": "old2new", "vectors": [0.1] * (D_IN + 1)})
    assert r.status_code == 422 and r.json()["field"] == "vectors" and "the vector has" in r.json()["error"]
    r = client.post("/maps/old2new/translate", json={"map": "rotate", "vectors": [[0.1] * D_IN]})
    assert r.status_code == 400 and r.json()["field"] == "map" and "'rotate'" in r.json()["error"]
    r = client.post("/maps/old2new/translate", json={"map": "old2new", "vectors": [[0.1] * D_IN]})
    assert r.status_code == 200


def test_zero_rows_are_refused_only_by_maps_that_normalise_lengths(client, maps):
    _, loaded = maps
    zero = [[0.0] * D_IN]
    r = client.post("/translate", json={"map": "old2new", "vectors": zero})  # least squares with a bias
    assert r.status_code == 200
    np.testing.assert_allclose(r.json()["vectors"], loaded["old2new"].transform(np.zeros((1, D_IN))), atol=1e-5)
    assert client.post("/translate", json={"map": "rotate", "vectors": zero}).status_code == 422


def test_extreme_finite_rows_translate_like_the_row_itself(client, maps):
    """A unit-normalised map: x * 1e25 and x * 1e-25 give the output of x (they collapsed before, 200 OK)."""
    _, loaded = maps
    x = np.random.default_rng(3).standard_normal((2, D_IN)).astype(np.float32)
    for factor in (1e25, 1e-25, 1e38, 1e-38):
        r = client.post("/translate", json={"map": "rotate", "vectors": (x.astype(np.float64) * factor).tolist()})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["vectors"], loaded["rotate"].transform(x), atol=1e-5)


def test_map_names_are_url_safe(maps):
    from vecbridge.errors import VecbridgeError
    from vecbridge.serve import load_maps

    root, _ = maps
    with pytest.raises(VecbridgeError, match="not a valid map name"):
        load_maps([f"../x={root / 'old2new'}"])
    assert list(load_maps([f"ok.v2={root / 'old2new'}"])) == ["ok.v2"]


def test_unknown_map_in_path_and_wrong_content_type(client):
    r = client.post("/maps/nope/translate", json={"vectors": [[0.0] * D_IN]})
    assert r.status_code == 404 and "old2new" in r.json()["error"]
    r = client.post("/translate", content=b"map=old2new", headers={"content-type": "text/plain"})
    assert r.status_code == 415



def test_too_many_rows_are_refused_before_the_body_is_parsed(maps, monkeypatch):
    """Millions of rows [0] in a body under the byte limit: 413 without parsing (it took 5 s and ~500 MiB)."""
    import tracemalloc

    from vecbridge.serve import app as app_module

    root, _ = maps
    app = create_app(root, max_rows=100, max_body_bytes=8 * 1024 * 1024)
    parsed = []
    real = app_module.TranslateRequest.model_validate_json
    monkeypatch.setattr(app_module.TranslateRequest, "model_validate_json",
                        lambda body: parsed.append(len(body)) or real(body))
    headers = {"content-type": "application/json"}
    with TestClient(app) as c:
        over = b"[0]," * 100 + b"[0]]}"
        r = c.post("/translate", content=b'{"map": "old2new", "vectors": [' + over, headers=headers)
        assert r.status_code == 413 and r.json()["field"] == "vectors" and "limit is 100" in r.json()["error"]
        body = b'{"map": "old2new", "vectors": [' + b",".join([b"[0]"] * 1_500_000) + b"]}"
        tracemalloc.start()
        try:
            r = c.post("/translate", content=body, headers=headers)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert r.status_code == 413 and "limit is 100" in r.json()["error"], r.text
        assert peak < 4 * len(body), peak  # the body and its copies, not an object per row
        r = c.post("/translate", content=b'{"hub": "h", "from": "a", "to": "b", "vectors": [' + over,
                   headers=headers)  # before the hub route reads the body (which would say: unknown hub)
        assert r.status_code == 413
        assert parsed == []
        r = c.post("/translate", json={"map": "old2new", "vectors": [[0.5] * D_IN] * 100})  # at the limit
        assert r.status_code == 200 and r.json()["n"] == 100 and len(parsed) == 1


@pytest.mark.parametrize(
    "body, more",
    [
        ({"map": "m", "vectors": [[0]] * 11}, True),
        ({"map": "m", "vectors": [[0]] * 10}, False),
        ({"map": "m", "vectors": [0.0] * 50}, False),  # one flat vector
        ({"x": [[0]] * 50, "map": "m", "vectors": [[0]] * 10}, False),  # brackets of an ignored field
        ({"x": {"vectors": [[0]] * 50}, "vectors": [[0]] * 2}, False),  # not the top-level "vectors"
        ({"x": "[[[[[[[[[[[[[[[\\\"]]]", "map": "m]", "vectors": [[0]] * 10}, False),  # brackets in strings
        ({"x": "\\\\", "vectors": [{"a": 1}] * 11}, True),
    ],
)
def test_rows_are_counted_without_parsing(body, more):
    from vecbridge.serve.app import _more_rows_than

    raw = json.dumps(body).encode()
    assert _more_rows_than(raw, 10) is more
    assert _more_rows_than(raw.replace(b'"vectors"', b'"vec\\u0074ors"'), 10) is more  # an escaped key is the key
    assert _more_rows_than(raw.replace(b'"vectors": ', b'"vectors"\n :\t'), 10) is more


def test_openapi_declares_the_bodies_and_the_errors(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert set(schemas["TranslateRequest"]["properties"]) == {"map", "vectors", "space"}
    assert set(schemas["ErrorBody"]["properties"]) == {"error", "field"} and "HTTPValidationError" not in schemas
    for path in ("/translate", "/maps/{name}/translate"):
        op = spec["paths"][path]["post"]
        assert op["requestBody"]["required"] is True
        assert op["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/TranslateRequest"}
        for status in ("400", "404", "413", "415", "422"):
            assert op["responses"][status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"}, (path, status)


@pytest.mark.parametrize("name", ["max_rows", "max_body_bytes"])
@pytest.mark.parametrize("value", ["10", None, 0, -5, True, 2.5])
def test_create_app_checks_its_limits(maps, name, value):
    from vecbridge.errors import ParameterError

    root, _ = maps
    with pytest.raises(ParameterError, match=f"{name} must be a positive whole number"):
        create_app(root, **{name: value})


def test_limits_may_be_numpy_integers(maps):
    root, _ = maps
    with TestClient(create_app(root, max_rows=np.int64(2), max_body_bytes=np.int32(4096))) as c:
        assert c.post("/translate", json={"map": "old2new", "vectors": [[0.0] * D_IN] * 2}).status_code == 200
        r = c.post("/translate", json={"map": "old2new", "vectors": [[0.0] * D_IN] * 3})
        assert r.status_code == 413 and "limit is 2" in r.json()["error"]


def test_framework_errors_have_the_documented_body(client):
    r = client.get("/translate")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["field"] is None and "Method Not Allowed" in r.json()["error"] and "POST" in r.json()["error"]
    assert client.get("/maps/old2new/translate").status_code == 405
    for path in ("/maps/%2F/translate", "/maps//translate", "/nope"):
        r = client.post(path, json={"vectors": [[0.0] * D_IN]})
        assert r.status_code == 404 and set(r.json()) == {"error", "field"} and r.json()["field"] is None, path
        assert "Not Found" in r.json()["error"]


@pytest.mark.parametrize("flat", [False, True])
def test_numbers_beyond_float64_are_too_large_not_nan(client, flat):
    def post(value: str):
        row = "[" + ", ".join([value] + ["0"] * (D_IN - 1)) + "]"
        body = f'{{"map": "old2new", "vectors": {row if flat else "[" + row + "]"}}}'
        r = client.post("/translate", content=body.encode(), headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["field"] == ("vectors[0]" if flat else "vectors[0][0]"), r.text
        return r.json()["error"]

    for value in ("1e400", "-1e400", "1.5e309"):
        msg = post(value)
        assert "too large" in msg and "NaN" not in msg, msg
    for value in ("NaN", "Infinity", "-Infinity"):
        assert "NaN or Inf" in post(value)

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(maps):
    root, _ = maps
    port = free_port()
    config = uvicorn.Config(create_app(root, max_rows=100, max_body_bytes=64 * 1024), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:  # pragma: no cover - the server did not start
        server.should_exit = True
        pytest.fail("uvicorn did not start on 127.0.0.1")
    yield url
    server.should_exit = True
    thread.join(timeout=15)
    assert not thread.is_alive()


def test_concurrent_load_on_localhost(live_server, maps):
    """8 clients, each at most 30 requests and 30 s: every answer has the right status and payload."""
    _, loaded = maps
    m = loaded["old2new"]

    def worker(seed: int) -> tuple[int, int]:
        rng = np.random.default_rng(seed)
        ok = bad = 0
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=live_server, timeout=20) as c:
            for i in range(30):
                if time.monotonic() > deadline:
                    break
                if i % 5 == 4:  # a malformed request among good ones
                    r = c.post("/translate", json={"map": "old2new", "vectors": [[0.0] * (D_IN - 1)]})
                    assert r.status_code == 422 and "takes" in r.json()["error"]
                    bad += 1
                    continue
                X = rng.standard_normal((int(rng.integers(1, 60)), D_IN)).astype(np.float32)
                r = c.post("/translate", json={"map": "old2new", "vectors": X.tolist()})
                assert r.status_code == 200, r.text
                Y = np.array(r.json()["vectors"], np.float32)
                np.testing.assert_allclose(Y, m.transform(X), atol=1e-5)  # this request's rows, not another's
                ok += 1
        return ok, bad

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    assert sum(r[0] for r in results) >= 8 and sum(r[1] for r in results) >= 8
    assert httpx.get(f"{live_server}/health", timeout=5).json()["status"] == "ok"


# -- audit: the request's fields as the caller wrote them, "space" -----------------------------------------------
def test_a_body_without_vectors_names_the_fields_it_has(client):
    r = client.post("/translate", json={"map": "old2new", "vector": [[0.0] * D_IN]})  # a typo
    assert r.status_code == 400 and r.json()["field"] == "vectors", r.text
    msg = r.json()["error"]
    assert '"vectors" is missing' in msg and '"vector"' in msg and 'did you mean "vectors"' in msg
    assert "non-empty list" not in msg


def test_values_are_echoed_as_json(client):
    r = client.post("/translate", json={"map": "old2new", "vectors": [[True, False] + [0.0] * (D_IN - 2)]})
    assert r.status_code == 422 and "vectors[0][0] is true" in r.json()["error"] and "True" not in r.json()["error"]
    r = client.post("/translate", json={"map": None, "vectors": [[0.0] * D_IN]})
    assert r.status_code == 400 and "None" not in r.json()["error"]
    r = client.post("/translate", json={"map": True, "vectors": [[0.0] * D_IN]})
    assert r.status_code == 400 and "got true" in r.json()["error"]


def test_fields_a_map_request_does_not_use_are_named_in_a_warning(client):
    x = [[0.1] * D_IN]
    r = client.post("/translate", json={"map": "old2new", "vectors": x})
    assert r.status_code == 200 and "warning" not in r.json()
    r = client.post("/translate", json={"map": "old2new", "from": "a", "to": "b", "vectors": x})
    assert r.status_code == 200, r.text
    warning = r.json()["warning"]
    assert '"from" and "to"' in warning and "not fields of a map request" in warning and '"hub"' in warning
    r = client.post("/maps/old2new/translate", json={"vectors": x, "spaec": "target"})
    assert r.status_code == 200 and '"spaec"' in r.json()["warning"] and r.json()["space"] == "map"


def test_space_chooses_the_map_output_or_the_target_model_coordinates(client, maps):
    _, loaded = maps
    t = loaded["rotate"]  # unit-normalised: its target coordinates differ from its output
    X = np.random.default_rng(5).standard_normal((6, D_IN)).astype(np.float32)
    default = client.post("/translate", json={"map": "rotate", "vectors": X.tolist()}).json()
    assert default["space"] == "map"
    np.testing.assert_allclose(default["vectors"], t.transform(X), atol=1e-5)
    for url, body in (("/translate", {"map": "rotate"}), ("/maps/rotate/translate", {})):
        r = client.post(url, json={**body, "vectors": X.tolist(), "space": "target"})
        assert r.status_code == 200 and r.json()["space"] == "target", r.text
        want = t.to_target_space(t.transform(X))
        np.testing.assert_allclose(r.json()["vectors"], want, atol=1e-5)
        assert np.abs(want - t.transform(X)).max() > 1e-2
        r = client.post(url, json={**body, "vectors": X.tolist(), "space": "map"})
        np.testing.assert_allclose(r.json()["vectors"], t.transform(X), atol=1e-5)
    for bad in ("model", "Target", None, 1, ["target"]):
        r = client.post("/translate", json={"map": "rotate", "vectors": X.tolist(), "space": bad})
        assert r.status_code == 422 and r.json()["field"] == "space", (bad, r.text)
        assert '"space" must be "map"' in r.json()["error"] and "Literal" not in r.json()["error"]
    spec = client.get("/openapi.json").json()["components"]["schemas"]["TranslateRequest"]["properties"]["space"]
    assert spec["enum"] == ["map", "target"] and spec["default"] == "map" and "migrate" in spec["description"]
