"""Controller-backed conformance tests: Endpoints/EndpointSlice (and mirroring) controllers and
the disruption controller with the eviction subresource.

Without a kubelet, pods are created with ``nodeName`` set and ``kubelet_ready`` patches their
status (Running, Ready, podIP) as a kubelet would; against a real cluster with kubelets the
helper is harmless (the kubelet overwrites it). Where upstream uses a ReplicaSet, pods are
created directly (no ReplicaSet controller needed).
"""
import time

import pytest

from conftest import retry_on_conflict
from kubernetes import client
from kubernetes.client.rest import ApiException

TIMEOUT = 30


def wait_for(fn, timeout=TIMEOUT, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def make_pod(core, ns, name, labels, port=80, port_name=None):
    ports = [{"containerPort": port, **({"name": port_name} if port_name else {})}]
    core.create_namespaced_pod(ns, {
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": "e2e-fake-node", "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9", "ports": ports}]},
    })


def kubelet_ready(core, ns, name, ip):
    """Stands in for the kubelet: reports the pod Running and Ready with ``ip``."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    core.patch_namespaced_pod_status(name, ns, {"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}})


def test_endpoints_and_slices_for_pods_matching_service(core, api_client, ns):
    """[sig-network] EndpointSlice should create Endpoints and EndpointSlices for Pods matching
    a Service."""
    d = client.DiscoveryV1Api(api_client)
    make_pod(core, ns, "pod1", {"label1": "pod1"}, 3000, "example-name")
    make_pod(core, ns, "pod2", {"label1": "pod2"}, 3001, "example-name")
    kubelet_ready(core, ns, "pod1", "10.9.0.1")
    kubelet_ready(core, ns, "pod2", "10.9.0.2")
    svc = lambda n, sel, ports: core.create_namespaced_service(ns, {
        "metadata": {"name": n}, "spec": {"selector": sel, "ports": ports}})
    svc("example-int-port", {"label1": "pod1"}, [{"name": "example", "port": 80, "targetPort": 3000}])
    svc("example-named-port", {"label1": "pod1"}, [{"name": "http", "port": 80, "targetPort": "example-name"}])
    svc("example-no-match", {"label1": "none"}, [{"name": "example-no-match", "port": 80, "targetPort": 8080}])

    def check(name, ip, port):
        try:
            ep = core.read_namespaced_endpoints(name, ns)
        except ApiException as e:
            if e.status == 404:  # not written by the endpoints controller yet
                return False
            raise
        if not ep.subsets or len(ep.subsets) != 1 or len(ep.subsets[0].addresses or []) != 1:
            return False
        a = ep.subsets[0].addresses[0]
        slices = d.list_namespaced_endpoint_slice(ns, label_selector=f"kubernetes.io/service-name={name}").items
        if len(slices) != 1 or len(slices[0].endpoints or []) != 1:
            return False
        s = slices[0]
        return (a.ip == ip and a.target_ref.name == "pod1" and ep.subsets[0].ports[0].port == port
                and s.address_type == "IPv4" and s.endpoints[0].addresses == [ip]
                and s.endpoints[0].target_ref.kind == "Pod" and s.ports[0].port == port
                and s.metadata.labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io")

    wait_for(lambda: check("example-int-port", "10.9.0.1", 3000), what="int port endpoints")
    wait_for(lambda: check("example-named-port", "10.9.0.1", 3000), what="named port endpoints")

    def empty():
        try:
            ep = core.read_namespaced_endpoints("example-no-match", ns)
        except ApiException:
            return False
        slices = d.list_namespaced_endpoint_slice(ns, label_selector="kubernetes.io/service-name=example-no-match").items
        return not ep.subsets and len(slices) == 1 and not slices[0].endpoints
    wait_for(empty, what="empty endpoints and a placeholder slice")


def test_endpointslice_mirroring(core, api_client, ns):
    """[sig-network] EndpointSliceMirroring should mirror a custom Endpoints resource through
    create update and delete."""
    d = client.DiscoveryV1Api(api_client)
    core.create_namespaced_service(ns, {"metadata": {"name": "example-custom-endpoints"},
                                        "spec": {"ports": [{"name": "example", "port": 80, "protocol": "TCP"}]}})
    core.create_namespaced_endpoints(ns, {
        "metadata": {"name": "example-custom-endpoints"},
        "subsets": [{"ports": [{"name": "example", "port": 80, "protocol": "TCP"}],
                     "addresses": [{"ip": "10.1.2.3"}]}]})
    sel = "kubernetes.io/service-name=example-custom-endpoints"

    def mirrored(ip, port):
        items = d.list_namespaced_endpoint_slice(ns, label_selector=sel).items
        if len(items) != 1:
            return False
        s = items[0]
        return (s.metadata.labels.get("endpointslice.kubernetes.io/managed-by") == "endpointslicemirroring-controller.k8s.io"
                and s.address_type == "IPv4" and len(s.endpoints) == 1 and s.endpoints[0].addresses == [ip]
                and len(s.ports) == 1 and s.ports[0].port == port and s.ports[0].name == "example")

    wait_for(lambda: mirrored("10.1.2.3", 80), what="mirrored slice")
    ep = core.read_namespaced_endpoints("example-custom-endpoints", ns)
    ep.subsets[0].addresses[0].ip = "10.2.3.4"
    ep.subsets[0].ports[0].port = 8080
    core.replace_namespaced_endpoints("example-custom-endpoints", ns, ep)
    wait_for(lambda: mirrored("10.2.3.4", 8080), what="updated mirrored slice")
    core.delete_namespaced_endpoints("example-custom-endpoints", ns)
    wait_for(lambda: not d.list_namespaced_endpoint_slice(ns, label_selector=sel).items, what="slices deleted")


def create_pdb(api_client, ns, name, spec):
    client.PolicyV1Api(api_client).create_namespaced_pod_disruption_budget(
        ns, {"metadata": {"name": name}, "spec": spec})


def test_pdb_status_updated(core, api_client, ns):
    """[sig-apps] DisruptionController should observe PodDisruptionBudget status updated."""
    p = client.PolicyV1Api(api_client)
    create_pdb(api_client, ns, "foo", {"minAvailable": 1, "selector": {"matchLabels": {"foo": "bar"}}})
    for i in range(3):
        make_pod(core, ns, f"pod-{i}", {"foo": "bar"})
        kubelet_ready(core, ns, f"pod-{i}", f"10.8.0.{i + 1}")
    wait_for(lambda: p.read_namespaced_pod_disruption_budget("foo", ns).status.disruptions_allowed > 0,
             what="disruptionsAllowed > 0")
    wait_for(lambda: p.read_namespaced_pod_disruption_budget("foo", ns).status.current_healthy == 3,
             what="3 healthy pods")
    st = p.read_namespaced_pod_disruption_budget("foo", ns).status
    assert (st.current_healthy, st.desired_healthy, st.expected_pods, st.disruptions_allowed) == (3, 1, 3, 2)
    assert [(c.type, c.status, c.reason) for c in st.conditions] == [("DisruptionAllowed", "True", "SufficientPods")]


def evict(core, ns, name):
    core.create_namespaced_pod_eviction(name, ns, {"apiVersion": "policy/v1", "kind": "Eviction",
                                                   "metadata": {"name": name, "namespace": ns}})


def test_pdb_blocks_eviction_until_updated(core, api_client, ns):
    """[sig-apps] DisruptionController should block an eviction until the PDB is updated to
    allow it."""
    p = client.PolicyV1Api(api_client)
    labels = {"foo": "bar"}
    create_pdb(api_client, ns, "foo", {"minAvailable": 3, "selector": {"matchLabels": labels}})
    for i in range(3):
        make_pod(core, ns, f"rs-{i}", labels)
        kubelet_ready(core, ns, f"rs-{i}", f"10.7.0.{i + 1}")
    healthy = lambda n: p.read_namespaced_pod_disruption_budget("foo", ns).status.current_healthy == n
    wait_for(lambda: healthy(3), what="3 healthy pods")
    with pytest.raises(ApiException) as e:
        evict(core, ns, "rs-0")
    assert e.value.status == 429
    assert "Cannot evict pod as it would violate the pod's disruption budget" in e.value.body

    def update():
        pdb = p.read_namespaced_pod_disruption_budget("foo", ns)
        pdb.spec.min_available = 2
        return p.replace_namespaced_pod_disruption_budget("foo", ns, pdb)
    # The disruption controller writes status concurrently: retry on conflict, as upstream does.
    retry_on_conflict(update)
    wait_for(lambda: p.read_namespaced_pod_disruption_budget("foo", ns).status.disruptions_allowed == 1,
             what="one disruption allowed")
    evict(core, ns, "rs-0")
    # The ReplicaSet would replace the evicted pod.
    wait_for(lambda: not [x for x in core.list_namespaced_pod(ns).items if x.metadata.name == "rs-0"], what="rs-0 gone")
    make_pod(core, ns, "rs-3", labels)
    kubelet_ready(core, ns, "rs-3", "10.7.0.4")

    p.patch_namespaced_pod_disruption_budget("foo", ns, {"spec": {"minAvailable": 3}})
    wait_for(lambda: healthy(3), what="3 healthy pods again")
    wait_for(lambda: p.read_namespaced_pod_disruption_budget("foo", ns).status.observed_generation
             == p.read_namespaced_pod_disruption_budget("foo", ns).metadata.generation, what="observed generation")
    with pytest.raises(ApiException) as e:
        evict(core, ns, "rs-1")
    assert e.value.status == 429
    assert "Cannot evict pod as it would violate the pod's disruption budget" in e.value.body

    p.delete_namespaced_pod_disruption_budget("foo", ns)
    evict(core, ns, "rs-1")
