"""Fixtures for the API conformance suite.

Runs against any cluster: ``--kubeconfig PATH`` or ``$KUBECONFIG`` selects an
existing one; otherwise one ``skiff server`` per pytest process (per xdist
worker) is started on a free port with a temporary data dir and killed at the
end of the session.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest
import yaml
from kubernetes import client, config, watch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def pytest_addoption(parser):
    parser.addoption("--kubeconfig", default=None,
                     help="kubeconfig of the cluster to test (default: $KUBECONFIG, else start skiff)")


def skiff_binary():
    if os.environ.get("SKIFF_BIN"):
        return os.environ["SKIFF_BIN"]
    candidates = [os.path.join(REPO, "..", "target", "debug", "skiff"),
                  os.path.join(REPO, "target", "debug", "skiff")]
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.insert(0, os.path.join(os.environ["CARGO_TARGET_DIR"], "debug", "skiff"))
    for c in candidates:
        if os.path.exists(c):
            return os.path.abspath(c)
    raise RuntimeError("skiff binary not found: set SKIFF_BIN or build with cargo build")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ssl_context(kubeconfig_path, tmp):
    """An SSL context with the kubeconfig's CA and client certificate."""
    import base64
    kc = yaml.safe_load(open(kubeconfig_path))
    cl = kc["clusters"][0]["cluster"]
    user = kc["users"][0]["user"]
    ctx = ssl.create_default_context()
    if "certificate-authority-data" in cl:
        ca = os.path.join(tmp, "ca.crt")
        open(ca, "wb").write(base64.b64decode(cl["certificate-authority-data"]))
        ctx.load_verify_locations(ca)
    if "client-certificate-data" in user:
        crt, key = os.path.join(tmp, "c.crt"), os.path.join(tmp, "c.key")
        open(crt, "wb").write(base64.b64decode(user["client-certificate-data"]))
        open(key, "wb").write(base64.b64decode(user["client-key-data"]))
        ctx.load_cert_chain(crt, key)
    return ctx, cl["server"]


@pytest.fixture(scope="session")
def kubeconfig(request):
    path = request.config.getoption("--kubeconfig") or os.environ.get("KUBECONFIG")
    if path:
        yield path
        return
    tmp = tempfile.mkdtemp(prefix="skiff-conformance-")
    port = free_port()
    log = open(os.path.join(tmp, "server.log"), "wb")
    proc = subprocess.Popen(
        [skiff_binary(), "server", "--data-dir", os.path.join(tmp, "data"),
         "--https-listen-port", str(port), "--bind-address", "127.0.0.1",
         # The suite checks the API; pods must not start on this machine's Docker.
         "--disable", "kubelet"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    kc = os.path.join(tmp, "data", "kubeconfig.yaml")
    deadline = time.time() + 60
    ready = False
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(kc):
            try:
                ctx, server = _ssl_context(kc, tmp)
                with urllib.request.urlopen(server + "/readyz", context=ctx, timeout=2) as r:
                    if r.status == 200:
                        ready = True
                        break
            except Exception:
                pass
        time.sleep(0.2)
    if not ready:
        proc.kill()
        raise RuntimeError("skiff server did not become ready; log: "
                           + open(os.path.join(tmp, "server.log")).read()[-3000:])
    yield kc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def api_client(kubeconfig):
    return config.new_client_from_config(config_file=kubeconfig)


@pytest.fixture(scope="session")
def core(api_client):
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def apps(api_client):
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="session")
def batch(api_client):
    return client.BatchV1Api(api_client)


@pytest.fixture(scope="session")
def custom(api_client):
    return client.CustomObjectsApi(api_client)


def unique(prefix="e2e"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ns(core):
    """A fresh namespace for one test, deleted afterwards."""
    name = unique("conf")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={"e2e-framework": "skiff-conformance"})))
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException:
        pass


class Raw:
    """Plain HTTP requests through the client's auth/TLS settings."""

    def __init__(self, api_client):
        self.c = api_client

    def request(self, method, path, body=None, headers=None, query=None):
        h = {"Accept": "application/json"}
        h.update(headers or {})
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        url = self.c.configuration.host + path
        if query:
            from urllib.parse import urlencode
            url += ("&" if "?" in url else "?") + urlencode(query)
        r = self.c.rest_client.pool_manager.request(method, url, body=body, headers=h,
                                                    preload_content=True, timeout=30)
        return r

    def json(self, method, path, body=None, headers=None, query=None, expect=200):
        r = self.request(method, path, body, headers, query)
        data = r.data.decode()
        if expect is not None:
            assert r.status == expect, f"{method} {path}: {r.status} {data[:500]}"
        return json.loads(data) if data else None


@pytest.fixture(scope="session")
def raw(api_client):
    return Raw(api_client)


class Kubectl:
    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig
        self.home = tempfile.mkdtemp(prefix="kubectl-home-")

    def run(self, *args, input=None, check=True, timeout=60):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home)
        p = subprocess.run(["kubectl", *args], input=input, capture_output=True,
                           text=True, env=env, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p


@pytest.fixture(scope="session")
def kubectl(kubeconfig):
    k = Kubectl(kubeconfig)
    yield k
    shutil.rmtree(k.home, ignore_errors=True)


def watch_events(func, timeout=10, stop=None, **kw):
    """Collect watch events (type, object) until ``stop(events)`` or timeout."""
    w = watch.Watch()
    events = []
    for ev in w.stream(func, timeout_seconds=timeout, _request_timeout=timeout + 5, **kw):
        events.append((ev["type"], ev["object"]))
        if stop and stop(events):
            w.stop()
            break
    return events


def j(fn, *args, **kw):
    """Call a typed client method but return the raw JSON reply as a dict (so the test does
    not depend on the client's model classes accepting the reply)."""
    r = fn(*args, _preload_content=False, **kw)
    return json.loads(r.data)


def retry_on_conflict(update, attempts=10):
    """Runs a read-modify-write `update()` again on 409 Conflict, as upstream's e2e tests do with
    retry.RetryOnConflict: controllers write the same objects (status) concurrently."""
    for i in range(attempts):
        try:
            return update()
        except client.ApiException as e:
            if e.status != 409 or i == attempts - 1:
                raise
            time.sleep(0.05 * (i + 1))
