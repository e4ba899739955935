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


class SkiffServer:
    """One ``skiff server`` on a free port with a temporary data dir."""

    def __init__(self, extra_args):
        self.tmp = tempfile.mkdtemp(prefix="skiff-conformance-")
        self.data = os.path.join(self.tmp, "data")
        port = free_port()
        self.log = open(os.path.join(self.tmp, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [skiff_binary(), "server", "--data-dir", self.data,
             "--https-listen-port", str(port), "--bind-address", "127.0.0.1", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.kubeconfig = os.path.join(self.data, "kubeconfig.yaml")
        deadline = time.time() + 60
        while time.time() < deadline and self.proc.poll() is None:
            if os.path.exists(self.kubeconfig):
                try:
                    ctx, server = _ssl_context(self.kubeconfig, self.tmp)
                    with urllib.request.urlopen(server + "/readyz", context=ctx, timeout=2) as r:
                        if r.status == 200:
                            return
                except Exception:
                    pass
            time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError("skiff server did not become ready; log: "
                           + open(os.path.join(self.tmp, "server.log")).read()[-3000:])

    def stop(self, cleanup=False):
        """SIGTERM (SIGKILL after 10 s); with ``cleanup``, ``skiff server --cleanup`` then
        removes the containers the server made."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if cleanup:
            subprocess.run([skiff_binary(), "server", "--cleanup", "--data-dir", self.data],
                           capture_output=True, timeout=120)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def kubeconfig(request):
    path = request.config.getoption("--kubeconfig") or os.environ.get("KUBECONFIG")
    if path:
        yield path
        return
    # The suite checks the API: pods must not start on this machine's Docker, and the host's
    # iptables and DNS ports are not touched (no kube-proxy, DNS or service load balancer, whose
    # status writes would also race the tests' own).
    server = SkiffServer(["--disable", "kubelet", "--disable", "kube-proxy", "--disable", "coredns",
                          "--disable", "servicelb"])
    yield server.kubeconfig
    server.stop()


@pytest.fixture(scope="session")
def node_kubeconfig(request):
    """A cluster whose node runs pods: the given one, or a skiff server with its kubelet on this
    machine's Docker (``scripts/docker-env`` starts Docker and builds ``busybox:1.35``)."""
    path = request.config.getoption("--kubeconfig") or os.environ.get("KUBECONFIG")
    if path:
        yield path
        return
    env = subprocess.run(["bash", os.path.join(REPO, "scripts", "docker-env")],
                         capture_output=True, text=True)
    if env.returncode != 0:
        pytest.skip("Docker is not available: " + env.stderr[-500:])
    server = SkiffServer(["--disable", "kube-proxy", "--disable", "coredns",
                          "--disable", "servicelb"])
    yield server.kubeconfig
    server.stop(cleanup=True)


@pytest.fixture(scope="session")
def node_core(node_kubeconfig):
    return client.CoreV1Api(config.new_client_from_config(config_file=node_kubeconfig))


@pytest.fixture
def node_ns(node_core):
    """A fresh namespace on the cluster with a node, deleted afterwards."""
    name = unique("node")
    node_core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={"e2e-framework": "skiff-conformance"})))
    # Pods need the namespace's default ServiceAccount (made by the controllers).
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            node_core.read_namespaced_service_account("default", name)
            break
        except client.ApiException:
            time.sleep(0.2)
    yield name
    try:
        node_core.delete_namespace(name)
    except client.ApiException:
        pass


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
