"""Post-deploy checks against loopback HTTP servers: health endpoints and package indexes."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from castoff.config import Config
from castoff.release.validate.model import CheckStatus
from castoff.release.validate.postdeploy import check_health, check_index, run_postdeploy
from castoff.release.validate.settings import HealthCheck, IndexCheck

Serve = Callable[..., tuple[str, Any]]


def _health(url: str, **kw: Any) -> HealthCheck:
    return HealthCheck(id="api", url=url, **{"deadline_seconds": 2.0, **kw})


def test_healthy_endpoint_reporting_the_version_passes(serve: Serve) -> None:
    """200 with {"version": "1.2.0"} passes on the first attempt."""
    base, _ = serve(lambda path, n: (200, {"status": "ok", "version": "1.2.0"}))
    outcome = check_health(_health(f"{base}/health"), "1.2.0")
    assert outcome.status is CheckStatus.PASS
    assert outcome.details["attempts"] == 1


def test_wrong_version_fails_after_the_deadline(serve: Serve) -> None:
    """An endpoint still on 1.1.0 fails, saying what it reports."""
    base, server = serve(lambda path, n: (200, {"version": "1.1.0"}))
    start = time.monotonic()
    outcome = check_health(
        _health(f"{base}/health", deadline_seconds=1.0), "1.2.0", first_delay=0.05
    )
    assert outcome.status is CheckStatus.FAIL
    assert "reports version = 1.1.0, expected 1.2.0" in outcome.message
    assert 1.0 <= time.monotonic() - start < 3.0
    assert server.hits > 2


def test_slow_then_healthy_endpoint_passes_after_retries(serve: Serve) -> None:
    """503 twice, then healthy: the backoff retries until it passes."""
    base, _ = serve(lambda path, n: (503, None) if n <= 2 else (200, {"version": "1.2.0"}))
    outcome = check_health(
        _health(f"{base}/health", deadline_seconds=5.0), "1.2.0", first_delay=0.05
    )
    assert outcome.status is CheckStatus.PASS
    assert outcome.details["attempts"] == 3


def test_down_endpoint_fails_as_unreachable(dead_url: str) -> None:
    """Nothing listening: a failed check saying unreachable, never an exception."""
    outcome = check_health(_health(dead_url, deadline_seconds=0.5), "1.2.0", first_delay=0.05)
    assert outcome.status is CheckStatus.FAIL
    assert outcome.message.startswith("unreachable:")
    assert "reachable" in outcome.remediation


def test_nested_version_field_is_followed(serve: Serve) -> None:
    """version_field "build.version" reads {"build": {"version": ...}}."""
    base, _ = serve(lambda path, n: (200, {"build": {"version": "v1.2.0"}}))
    spec = _health(f"{base}/", version_field="build.version")
    assert check_health(spec, "1.2.0").status is CheckStatus.PASS


def test_unexpected_status_fails_naming_it(serve: Serve) -> None:
    """A 500 where 200 is expected fails with both codes."""
    base, _ = serve(lambda path, n: (500, {"error": "x"}))
    outcome = check_health(_health(f"{base}/", deadline_seconds=0.3), "1.0.0", first_delay=0.05)
    assert "answered 500, expected 200" in outcome.message


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTPS server with a self-signed certificate."""
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"version": "1.2.0"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


def test_tls_is_verified_by_default(tls_server: str) -> None:
    """A self-signed certificate fails verification unless verify_tls is off."""
    outcome = check_health(_health(tls_server, deadline_seconds=0.3), "1.2.0", first_delay=0.05)
    assert outcome.status is CheckStatus.FAIL
    assert "TLS" in outcome.message
    relaxed = _health(tls_server, verify_tls=False)
    assert check_health(relaxed, "1.2.0").status is CheckStatus.PASS


def _pypi(versions: list[str] | None, files: list[str]) -> Callable[[str, int], tuple[int, Any]]:
    def respond(path: str, n: int) -> tuple[int, Any]:
        if path != "/simple/sample-pkg/":
            return 404, {"detail": "not found"}
        doc: dict[str, Any] = {"meta": {"api-version": "1.1"}, "name": "sample-pkg"}
        doc["files"] = [{"filename": f, "url": f, "hashes": {}} for f in files]
        if versions is not None:
            doc["versions"] = versions
        return 200, doc

    return respond


def test_pypi_index_listing_the_version_passes(serve: Serve) -> None:
    """PEP 691 JSON with the version in "versions" passes (name normalized)."""
    base, _ = serve(_pypi(["1.1.0", "1.2.0"], []))
    spec = IndexCheck(url=f"{base}/simple", kind="pypi", deadline_seconds=1.0)
    assert check_index(spec, "Sample_Pkg", "1.2.0").status is CheckStatus.PASS


def test_pypi_index_without_versions_key_reads_filenames(serve: Serve) -> None:
    """An index without PEP 700 "versions" is read from the file names."""
    base, _ = serve(_pypi(None, ["sample_pkg-1.2.0-py3-none-any.whl", "sample_pkg-1.1.0.tar.gz"]))
    spec = IndexCheck(url=f"{base}/simple", kind="pypi", deadline_seconds=1.0)
    assert check_index(spec, "sample-pkg", "1.2.0").status is CheckStatus.PASS


def test_pypi_index_missing_the_version_fails(serve: Serve) -> None:
    """Only older versions listed: fails after the deadline, with a hint about lag."""
    base, _ = serve(_pypi(["1.1.0"], []))
    spec = IndexCheck(url=f"{base}/simple", kind="pypi", deadline_seconds=0.3)
    outcome = check_index(spec, "sample-pkg", "1.2.0", first_delay=0.05)
    assert outcome.status is CheckStatus.FAIL
    assert "not listed" in outcome.message
    assert "deadline_seconds" in outcome.remediation


def test_npm_registry_document_lists_the_version(serve: Serve) -> None:
    """npm registry JSON: the version is a key of "versions"; scoped names are escaped."""
    seen: list[str] = []

    def respond(path: str, n: int) -> tuple[int, Any]:
        seen.append(path)
        return 200, {"name": "@acme/tool", "versions": {"1.2.0": {}, "1.1.0": {}}}

    base, _ = serve(respond)
    spec = IndexCheck(url=base, kind="npm", deadline_seconds=1.0)
    assert check_index(spec, "@acme/tool", "1.2.0").status is CheckStatus.PASS
    assert seen == ["/@acme%2Ftool"]


def test_run_postdeploy_runs_every_configured_check(serve: Serve, dead_url: str) -> None:
    """Health endpoints and the index run together; one down endpoint fails the report."""
    base, _ = serve(lambda path, n: (200, {"version": "1.2.0", "versions": {"1.2.0": {}}}))
    config = Config(
        root=Path("/nowhere"),
        data={
            "validate": {
                "health": [
                    {"id": "api", "url": f"{base}/health", "deadline_seconds": 1},
                    {"id": "worker", "url": dead_url, "deadline_seconds": 0.5},
                ],
                "index": {
                    "url": f"{base}/simple",
                    "kind": "npm",
                    "package": "x",
                    "deadline_seconds": 1,
                },
            }
        },
    )
    report = run_postdeploy(config, version="1.2.0")
    assert [(c.id, c.status.value) for c in report.checks] == [
        ("health.api", "pass"),
        ("health.worker", "fail"),
        ("index", "pass"),
    ]
    assert report.kind == "postdeploy"
    assert not report.ok
    assert report.tag == "v1.2.0"


def test_run_postdeploy_with_nothing_configured_is_empty() -> None:
    """No health and no index: an empty, passing report."""
    report = run_postdeploy(Config(root=Path("/nowhere")), version="1.0.0")
    assert report.checks == ()
    assert report.ok


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback URL whose server accepts connections and never answers."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/health"


def test_each_attempt_is_clamped_to_the_deadline(silent_url: str) -> None:
    """A server that never answers fails at the deadline, not a request timeout later."""
    start = time.monotonic()
    spec = _health(silent_url, deadline_seconds=2.5, request_timeout=1.0)
    outcome = check_health(spec, "1.2.0", first_delay=0.05)
    elapsed = time.monotonic() - start
    assert outcome.status is CheckStatus.FAIL
    assert "no answer in time" in outcome.message
    assert 2.4 <= elapsed < 2.9  # the third attempt gets only what is left of the 2.5 s


def test_no_attempt_starts_after_the_deadline(serve: Serve) -> None:
    """Every request falls inside the deadline; the check ends close to it."""
    hits: list[float] = []
    base, _ = serve(lambda path, n: (hits.append(time.monotonic()), (503, None))[1])
    start = time.monotonic()
    outcome = check_health(_health(f"{base}/h", deadline_seconds=1.2), "1.2.0", first_delay=0.3)
    elapsed = time.monotonic() - start
    assert outcome.status is CheckStatus.FAIL
    assert max(hits) - start < 1.2
    assert 1.2 <= elapsed < 1.8


def test_status_only_health_check_ignores_the_body(serve: Serve) -> None:
    """version_field = "" (None): a 200 passes whatever the body is."""
    base, _ = serve(lambda path, n: (200, None))
    outcome = check_health(_health(f"{base}/", version_field=None), "1.2.0")
    assert outcome.status is CheckStatus.PASS


def test_tls_failure_on_the_index_gets_a_tls_hint(tls_server: str) -> None:
    """The index check names the certificate problem and how to fix it."""
    spec = IndexCheck(url=tls_server.rsplit("/", 1)[0], kind="npm", deadline_seconds=0.3)
    outcome = check_index(spec, "x", "1.2.0", first_delay=0.05)
    assert outcome.status is CheckStatus.FAIL
    assert outcome.message.startswith("TLS certificate verification failed")
    assert "verify_tls = false in [tool.castoff.validate] index" in outcome.remediation
