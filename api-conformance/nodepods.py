"""Helpers for the node conformance tests: run a pod to completion on a cluster with a node,
read its logs and status. The images are ``busybox:1.35`` (as CI builds it) and
``skiff-e2e/entrypoint-tester:1.0``, built from it here, standing in for upstream's agnhost."""
import json
import subprocess
import time

from kubernetes import client

from conftest import unique

BUSYBOX = "busybox:1.35"
ENTRYPOINT_TESTER = "skiff-e2e/entrypoint-tester:1.0"


def ensure_entrypoint_tester():
    """Builds the image with an ENTRYPOINT and a CMD (echoing its arguments) if missing."""
    have = subprocess.run(["docker", "image", "inspect", ENTRYPOINT_TESTER], capture_output=True)
    if have.returncode == 0:
        return
    dockerfile = (f"FROM {BUSYBOX}\n"
                  'ENTRYPOINT ["/bin/echo", "entrypoint"]\n'
                  'CMD ["default", "arguments"]\n')
    subprocess.run(["docker", "build", "-q", "-t", ENTRYPOINT_TESTER, "-"], input=dockerfile,
                   text=True, check=True, capture_output=True)


def sh(name, script, **extra):
    """A busybox container running ``sh -c script``."""
    return {"name": name, "image": BUSYBOX, "command": ["sh", "-c", script], **extra}


def raw_pod(core, ns, name):
    r = core.read_namespaced_pod(name, ns, _preload_content=False)
    return json.loads(r.data)


def wait_pod(core, ns, name, cond, timeout=90, what="condition"):
    """Polls the pod until ``cond(pod_json)``; returns the pod."""
    deadline = time.time() + timeout
    pod = None
    while time.time() < deadline:
        pod = raw_pod(core, ns, name)
        if cond(pod):
            return pod
        time.sleep(0.3)
    raise AssertionError(f"pod {ns}/{name}: no {what} within {timeout}s: "
                         f"{json.dumps(pod.get('status') if pod else None)[:2000]}")


def phase_is(*phases):
    return lambda p: p.get("status", {}).get("phase") in phases


def create_pod(core, ns, spec, name=None, labels=None, annotations=None):
    name = name or unique("pod")
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    core.create_namespaced_pod(ns, {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                                    "spec": {"terminationGracePeriodSeconds": 1, **spec}})
    return name


def run_pod(core, ns, spec, expect="Succeeded", timeout=90, **meta):
    """Creates a pod (restartPolicy Never unless given), waits until it ended, checks its phase;
    returns ``(name, pod_json)``."""
    spec = {"restartPolicy": "Never", **spec}
    name = create_pod(core, ns, spec, **meta)
    pod = wait_pod(core, ns, name, phase_is("Succeeded", "Failed"), timeout, "end")
    if expect:
        assert pod["status"]["phase"] == expect, (
            f"{name}: {pod['status']['phase']}: {logs_of_all(core, ns, pod)}")
    return name, pod


def logs(core, ns, name, container=None):
    kw = {"container": container} if container else {}
    return core.read_namespaced_pod_log(name, ns, **kw)


def logs_of_all(core, ns, pod):
    out = {}
    for c in pod["spec"]["containers"]:
        try:
            out[c["name"]] = logs(core, ns, pod["metadata"]["name"], c["name"])
        except client.ApiException as e:
            out[c["name"]] = f"<{e.status}>"
    return out


def output_of(core, ns, spec, container=None, **meta):
    """Runs a pod to success and returns its (first or named) container's log."""
    name, pod = run_pod(core, ns, spec, **meta)
    return logs(core, ns, name, container or pod["spec"]["containers"][0]["name"])


def terminated(pod, container=None):
    """The terminated state of a container of the pod."""
    for s in pod["status"].get("containerStatuses", []):
        if container is None or s["name"] == container:
            return s["state"].get("terminated")
    return None


def node_allocatable(core):
    node = core.list_node().items[0]
    return node.status.allocatable


def exec_in(core, ns, pod, cmd, container=None):
    """``kubectl exec``-like: runs a command through the websocket exec API."""
    from kubernetes.stream import stream
    kw = {"container": container} if container else {}
    return stream(core.connect_get_namespaced_pod_exec, pod, ns, command=cmd,
                  stderr=True, stdin=False, stdout=True, tty=False, **kw)


def quantity_bytes(q):
    """A memory quantity such as ``64Mi`` or ``8123456Ki`` in bytes."""
    units = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "k": 1000, "M": 1000 ** 2,
             "G": 1000 ** 3}
    for u, m in units.items():
        if q.endswith(u):
            return int(q[:-len(u)]) * m
    return int(q)
