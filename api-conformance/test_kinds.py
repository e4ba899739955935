"""Ports of the API-only conformance tests of the smaller API groups: PriorityClass endpoints,
RuntimeClass, IngressClass, Ingress, PodDisruptionBudget, CertificateSigningRequest,
StorageClass, CSIDriver, CSIStorageCapacity and VolumeAttachment lifecycles.

Upstream (test/e2e/...) drives each kind through discovery, create, get, list, watch, patch,
update, status, delete and deletecollection; these do the same over plain HTTP."""
import base64
import subprocess

from conftest import unique


def discovered(raw, group_version, plural):
    doc = raw.json("GET", f"/apis/{group_version}")
    return any(r["name"] == plural for r in doc["resources"])


def lifecycle(raw, base, make, label, status=False):
    """Create three objects, then get, list, patch, update, (status), delete, deletecollection."""
    names = [unique("obj") for _ in range(3)]
    for n in names:
        created = raw.json("POST", base, make(n), expect=201)
        assert created["metadata"]["name"] == n
    got = raw.json("GET", f"{base}/{names[0]}")
    assert got["metadata"]["name"] == names[0]
    lst = raw.json("GET", base, query={"labelSelector": label})
    assert sorted(i["metadata"]["name"] for i in lst["items"]) == sorted(names)
    # watch from the list's resourceVersion sees the patch
    patched = raw.json("PATCH", f"{base}/{names[0]}",
                       {"metadata": {"annotations": {"patched": "true"}}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert patched["metadata"]["annotations"]["patched"] == "true"
    r = raw.request("GET", base, query={"watch": "1", "resourceVersion": lst["metadata"]["resourceVersion"],
                                        "timeoutSeconds": "1", "labelSelector": label})
    assert b'"MODIFIED"' in r.data and b'"patched":"true"' in r.data
    got["metadata"]["annotations"] = {"updated": "true"}
    got["metadata"].pop("resourceVersion", None)
    updated = raw.json("PUT", f"{base}/{names[0]}", got)
    assert updated["metadata"]["annotations"] == {"updated": "true"}
    if status:
        st = raw.json("GET", f"{base}/{names[0]}/status")
        assert st["metadata"]["name"] == names[0]
        raw.json("PATCH", f"{base}/{names[0]}/status",
                 {"metadata": {"annotations": {"status": "patched"}}},
                 headers={"Content-Type": "application/merge-patch+json"})
    raw.json("DELETE", f"{base}/{names[0]}")
    raw.json("GET", f"{base}/{names[0]}", expect=404)
    raw.json("DELETE", base, query={"labelSelector": label})
    lst = raw.json("GET", base, query={"labelSelector": label})
    assert lst["items"] == []


def test_priorityclass_endpoints(raw):
    """[sig-scheduling] SchedulerPreemption [Serial] PriorityClass endpoints verify PriorityClass
    endpoints can be operated with different HTTP methods."""
    assert discovered(raw, "scheduling.k8s.io/v1", "priorityclasses")
    label = f"e2e={unique('pc')}"
    k, v = label.split("=")
    base = "/apis/scheduling.k8s.io/v1/priorityclasses"
    lifecycle(raw, base, lambda n: {"metadata": {"name": n, "labels": {k: v}}, "value": 1000}, label)
    # value is immutable
    name = unique("pc")
    raw.json("POST", base, {"metadata": {"name": name}, "value": 10}, expect=201)
    raw.json("PATCH", f"{base}/{name}", {"value": 11},
             headers={"Content-Type": "application/merge-patch+json"}, expect=422)
    raw.json("DELETE", f"{base}/{name}")


def test_runtimeclass_api(raw):
    """[sig-node] RuntimeClass should support RuntimeClasses API operations."""
    assert discovered(raw, "node.k8s.io/v1", "runtimeclasses")
    label = f"e2e={unique('rc')}"
    k, v = label.split("=")
    lifecycle(raw, "/apis/node.k8s.io/v1/runtimeclasses",
              lambda n: {"metadata": {"name": n, "labels": {k: v}}, "handler": "runc"}, label)


def test_ingressclass_api(raw):
    """[sig-network] IngressClass API should support creating IngressClass API operations."""
    assert discovered(raw, "networking.k8s.io/v1", "ingressclasses")
    label = f"e2e={unique('ic')}"
    k, v = label.split("=")
    lifecycle(raw, "/apis/networking.k8s.io/v1/ingressclasses",
              lambda n: {"metadata": {"name": n, "labels": {k: v}},
                         "spec": {"controller": "example.com/controller"}}, label)


def test_ingress_api(raw, ns):
    """[sig-network] Ingress API should support creating Ingress API operations."""
    assert discovered(raw, "networking.k8s.io/v1", "ingresses")
    label = f"e2e={unique('ing')}"
    k, v = label.split("=")
    backend = {"service": {"name": "default-backend", "port": {"number": 8080}}}
    lifecycle(raw, f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
              lambda n: {"metadata": {"name": n, "labels": {k: v}},
                         "spec": {"defaultBackend": backend, "rules": [{"host": "foo.bar.com",
                                  "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                      "backend": backend}]}}]}},
              label, status=True)


def test_create_pod_disruption_budget(raw, ns):
    """[sig-apps] DisruptionController should create a PodDisruptionBudget (API part: the
    controller's status computation is not checked)."""
    assert discovered(raw, "policy/v1", "poddisruptionbudgets")
    label = f"e2e={unique('pdb')}"
    k, v = label.split("=")
    lifecycle(raw, f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
              lambda n: {"metadata": {"name": n, "labels": {k: v}},
                         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"foo": "bar"}}}},
              label, status=True)


def test_csr_api(raw):
    """[sig-auth] Certificates API [Privileged:ClusterAdmin] should support CSR API operations
    (no signer runs: approval is checked, not issuance)."""
    assert discovered(raw, "certificates.k8s.io/v1", "certificatesigningrequests")
    pem = subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
                          "/dev/null", "-subj", "/CN=e2e"], capture_output=True, check=True).stdout
    req = base64.b64encode(pem).decode()
    label = f"e2e={unique('csr')}"
    k, v = label.split("=")
    base = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    lifecycle(raw, base,
              lambda n: {"metadata": {"name": n, "labels": {k: v}},
                         "spec": {"request": req, "signerName": "example.com/e2e",
                                  "usages": ["client auth"]}}, label, status=True)
    name = unique("csr")
    raw.json("POST", base, {"metadata": {"name": name}, "spec": {
        "request": req, "signerName": "example.com/e2e", "usages": ["client auth"]}}, expect=201)
    csr = raw.json("GET", f"{base}/{name}/approval")
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "E2E",
                                     "message": "approved"}]}
    out = raw.json("PUT", f"{base}/{name}/approval", csr)
    assert out["status"]["conditions"][0]["type"] == "Approved"
    raw.json("DELETE", f"{base}/{name}")


def test_storageclass_lifecycle(raw):
    """[sig-storage] StorageClasses CSI Conformance should run through the lifecycle of a
    StorageClass."""
    assert discovered(raw, "storage.k8s.io/v1", "storageclasses")
    label = f"e2e={unique('sc')}"
    k, v = label.split("=")
    lifecycle(raw, "/apis/storage.k8s.io/v1/storageclasses",
              lambda n: {"metadata": {"name": n, "labels": {k: v}},
                         "provisioner": "e2e-fake-provisioner"}, label)


def test_csidriver_lifecycle(raw):
    """[sig-storage] CSIInlineVolumes should run through the lifecycle of a CSIDriver."""
    assert discovered(raw, "storage.k8s.io/v1", "csidrivers")
    label = f"e2e={unique('csi')}"
    k, v = label.split("=")
    lifecycle(raw, "/apis/storage.k8s.io/v1/csidrivers",
              lambda n: {"metadata": {"name": n, "labels": {k: v}},
                         "spec": {"volumeLifecycleModes": ["Ephemeral"]}}, label)


def test_csistoragecapacity_api(raw, ns):
    """[sig-storage] CSIStorageCapacity should support CSIStorageCapacities API operations."""
    assert discovered(raw, "storage.k8s.io/v1", "csistoragecapacities")
    label = f"e2e={unique('cap')}"
    k, v = label.split("=")
    lifecycle(raw, f"/apis/storage.k8s.io/v1/namespaces/{ns}/csistoragecapacities",
              lambda n: {"metadata": {"name": n, "labels": {k: v}},
                         "storageClassName": "e2e-sc"}, label)


def test_volumeattachment_lifecycle(raw):
    """[sig-storage] VolumeAttachment Conformance should run through the lifecycle of a
    VolumeAttachment."""
    assert discovered(raw, "storage.k8s.io/v1", "volumeattachments")
    label = f"e2e={unique('va')}"
    k, v = label.split("=")
    lifecycle(raw, "/apis/storage.k8s.io/v1/volumeattachments",
              lambda n: {"metadata": {"name": n, "labels": {k: v}},
                         "spec": {"attacher": "e2e.example.com", "nodeName": "node-1",
                                  "source": {"persistentVolumeName": "pv-" + n}}},
              label, status=True)


def test_volumeattachment_status(raw):
    """[sig-storage] VolumeAttachment Conformance should apply changes to a volumeattachment
    status."""
    base = "/apis/storage.k8s.io/v1/volumeattachments"
    name = unique("va")
    raw.json("POST", base, {"metadata": {"name": name}, "spec": {
        "attacher": "e2e.example.com", "nodeName": "node-1",
        "source": {"persistentVolumeName": "pv-1"}}}, expect=201)
    out = raw.json("PATCH", f"{base}/{name}/status", {"status": {"attached": True}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert out["status"]["attached"] is True
    va = raw.json("GET", f"{base}/{name}/status")
    va["status"]["attachmentMetadata"] = {"path": "/dev/e2e"}
    out = raw.json("PUT", f"{base}/{name}/status", va)
    assert out["status"]["attachmentMetadata"] == {"path": "/dev/e2e"}
    # the main resource keeps the status
    out = raw.json("PATCH", f"{base}/{name}", {"status": {"attached": False}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert out["status"]["attached"] is True
    raw.json("DELETE", f"{base}/{name}")
