"""Ports of [sig-cli] Kubectl client conformance tests that need only the API (real kubectl)."""
import json
import re

import pytest

PAUSE_POD = """apiVersion: v1
kind: Pod
metadata:
  name: pause
  labels: {name: pause}
spec:
  containers:
  - name: pause
    image: registry.k8s.io/pause:3.10
"""

HTTPD_POD = """apiVersion: v1
kind: Pod
metadata:
  name: e2e-test-httpd-pod
  labels: {run: e2e-test-httpd-pod}
spec:
  containers:
  - name: e2e-test-httpd-pod
    image: registry.k8s.io/e2e-test-images/httpd:2.4.38-4
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd-deployment
  labels: {app: httpd}
spec:
  replicas: 1
  selector: {matchLabels: {app: httpd}}
  template:
    metadata: {labels: {app: httpd}}
    spec:
      containers:
      - name: httpd
        image: %s
"""


def test_kubectl_version(kubectl):
    """Kubectl client Kubectl version should check is all data is printed."""
    out = kubectl.run("version").stdout
    assert "Client Version:" in out
    assert "Server Version:" in out
    v = json.loads(kubectl.run("version", "-o", "json").stdout)
    for part in ("clientVersion", "serverVersion"):
        for key in ("major", "minor", "gitVersion", "gitCommit", "buildDate", "goVersion",
                    "compiler", "platform"):
            assert key in v[part], (part, key)


def test_kubectl_api_versions(kubectl):
    """Kubectl client Kubectl api-versions should check if v1 is in available api versions."""
    out = kubectl.run("api-versions").stdout.split()
    assert "v1" in out


def test_kubectl_cluster_info(kubectl):
    """Kubectl client Kubectl cluster-info should check if Kubernetes control plane services is
    included in cluster-info."""
    out = kubectl.run("cluster-info").stdout
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "Kubernetes control plane" in out, out


def test_kubectl_label(kubectl, ns):
    """Kubectl client Kubectl label should update the label on a resource (API part: the pod is
    not waited for to run)."""
    kubectl.run("create", "-f", "-", "-n", ns, input=PAUSE_POD)
    kubectl.run("label", "pods", "pause", "testing-label=testing-label-value", "-n", ns)
    out = kubectl.run("get", "pod", "pause", "-L", "testing-label", "-n", ns).stdout
    assert "TESTING-LABEL" in out and "testing-label-value" in out, out
    kubectl.run("label", "pods", "pause", "testing-label-", "-n", ns)
    out = kubectl.run("get", "pod", "pause", "-L", "testing-label", "-n", ns).stdout
    assert "testing-label-value" not in out, out


def test_kubectl_server_side_dry_run(kubectl, ns):
    """Kubectl client Kubectl server-side dry-run should check if kubectl can dry-run update
    Pods (API part)."""
    kubectl.run("run", "e2e-test-httpd-pod", "--image=registry.k8s.io/e2e-test-images/httpd:2.4.38-4",
                "--labels=run=e2e-test-httpd-pod", "-n", ns)
    patch = '{"spec":{"containers":[{"name": "e2e-test-httpd-pod","image": "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"}]}}'
    kubectl.run("patch", "pod", "e2e-test-httpd-pod", "-p", patch, "--dry-run=server", "-n", ns)
    img = kubectl.run("get", "pod", "e2e-test-httpd-pod", "-n", ns,
                      "-o", "jsonpath={.spec.containers[0].image}").stdout
    assert img == "registry.k8s.io/e2e-test-images/httpd:2.4.38-4", img
    kubectl.run("delete", "pod", "e2e-test-httpd-pod", "-n", ns)


def test_kubectl_replace(kubectl, ns):
    """Kubectl client Kubectl replace should update a single-container pod's image (API part)."""
    kubectl.run("create", "-f", "-", "-n", ns, input=HTTPD_POD)
    pod = json.loads(kubectl.run("get", "pod", "e2e-test-httpd-pod", "-n", ns, "-o", "json").stdout)
    pod["spec"]["containers"][0]["image"] = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"
    kubectl.run("replace", "-f", "-", "-n", ns, input=json.dumps(pod))
    img = kubectl.run("get", "pod", "e2e-test-httpd-pod", "-n", ns,
                      "-o", "jsonpath={.spec.containers[0].image}").stdout
    assert img == "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"


def test_kubectl_diff_deployment(kubectl, ns):
    """Kubectl client Kubectl diff should check if kubectl diff finds a difference for Deployments."""
    kubectl.run("apply", "-f", "-", "-n", ns, input=DEPLOYMENT % "httpd:2.4.38-alpine")
    p = kubectl.run("diff", "-f", "-", "-n", ns, input=DEPLOYMENT % "httpd:2.4.39-alpine", check=False)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "httpd:2.4.39-alpine" in p.stdout, p.stdout
    kubectl.run("delete", "deployment", "httpd-deployment", "-n", ns)
