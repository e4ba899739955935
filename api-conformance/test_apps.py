"""Ports of apps/v1, batch/v1, coordination.k8s.io and discovery.k8s.io conformance tests.

Skiff has no controllers yet, so the tests marked "API part" check the API behaviour the
upstream test exercises (subresources, patches, collections) and skip its waits for pods.
"""
import pytest
from kubernetes import client
from kubernetes.client import ApiException

from conftest import j, retry_on_conflict, unique, watch_events

POD_TEMPLATE = {"metadata": {"labels": {"app": "e2e"}},
                "spec": {"containers": [{"name": "httpd", "image": "httpd:2.4"}]}}


def _tmpl(labels):
    return {"metadata": {"labels": labels}, "spec": POD_TEMPLATE["spec"]}


def deployment(name, labels, replicas=1):
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": _tmpl(labels)}}


def replicaset(name, labels, replicas=1):
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": _tmpl(labels)}}


def statefulset(name, labels, replicas=1):
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "serviceName": "test", "selector": {"matchLabels": labels},
                     "template": _tmpl(labels)}}


def daemonset(name, labels):
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"selector": {"matchLabels": labels}, "template": _tmpl(labels)}}


def status_cond(kind):
    return {"type": "StatusUpdate", "status": "True", "reason": "E2E",
            "message": f"Set from e2e test ({kind})"}


def _check_status_endpoints(raw, path):
    """GET, PUT and PATCH <path>/status the way the upstream test does (raw JSON)."""
    def update():
        obj = raw.json("GET", path + "/status")
        st = obj.setdefault("status", {})
        st["conditions"] = st.get("conditions", []) + [status_cond("update")]
        return raw.json("PUT", path + "/status", obj)
    # Controllers write status concurrently: retry on conflict, as upstream does.
    for attempt in range(10):
        try:
            u = update()
            break
        except AssertionError as e:
            if "409" not in str(e) or attempt == 9:
                raise
    assert any(c["type"] == "StatusUpdate" for c in u["status"]["conditions"])
    merge = {"Content-Type": "application/merge-patch+json"}
    p = raw.json("PATCH", path + "/status", {"metadata": {"annotations": {"patchedstatus": "true"}},
                  "status": {"conditions": [{"type": "StatusPatched", "status": "True"}]}}, headers=merge)
    assert p["metadata"]["annotations"]["patchedstatus"] == "true"
    assert "StatusPatched" in [c["type"] for c in p["status"]["conditions"]]
    # a status update does not change the spec
    return raw.json("PATCH", path + "/status", {"spec": {"replicas": 9}}, headers=merge)


def test_deployment_status_endpoints(apps, raw, ns):
    """[sig-apps] Deployment should validate Deployment Status endpoints (API part)."""
    name = "test-deployment-" + unique("x")[-5:]
    j(apps.create_namespaced_deployment, ns, deployment(name, {"e2e": name}))
    lst = j(apps.list_deployment_for_all_namespaces, label_selector=f"e2e={name}")
    assert [d["metadata"]["name"] for d in lst["items"]] == [name]
    p = _check_status_endpoints(raw, f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    assert p["spec"]["replicas"] == 1
    apps.delete_namespaced_deployment(name, ns)


def _check_scale(read_scale, replace_scale, patch_scale, read, name, ns):
    sc = j(read_scale, name, ns)
    assert sc["kind"] == "Scale" and sc["spec"]["replicas"] == 1 and sc["metadata"]["name"] == name

    def update():
        sc = j(read_scale, name, ns)
        sc["spec"]["replicas"] = 2
        return j(replace_scale, name, ns, sc)
    u = retry_on_conflict(update)
    assert u["spec"]["replicas"] == 2
    assert j(read, name, ns)["spec"]["replicas"] == 2
    p = j(patch_scale, name, ns, {"spec": {"replicas": 4}})
    assert p["spec"]["replicas"] == 4
    assert j(read, name, ns)["spec"]["replicas"] == 4


def test_deployment_scale_subresource(apps, ns):
    """[sig-apps] Deployment Deployment should have a working scale subresource (API part)."""
    name = "test-new-deployment"
    j(apps.create_namespaced_deployment, ns, deployment(name, {"name": "httpd"}))
    _check_scale(apps.read_namespaced_deployment_scale, apps.replace_namespaced_deployment_scale,
                 apps.patch_namespaced_deployment_scale, apps.read_namespaced_deployment, name, ns)


def test_replicaset_scale_subresource(apps, ns):
    """[sig-apps] ReplicaSet Replicaset should have a working scale subresource (API part)."""
    name = "test-rs"
    j(apps.create_namespaced_replica_set, ns, replicaset(name, {"name": "sample-pod"}))
    _check_scale(apps.read_namespaced_replica_set_scale, apps.replace_namespaced_replica_set_scale,
                 apps.patch_namespaced_replica_set_scale, apps.read_namespaced_replica_set, name, ns)


def test_replicaset_status_endpoints(apps, raw, ns):
    """[sig-apps] ReplicaSet should validate Replicaset Status endpoints (API part)."""
    name = "test-rs"
    j(apps.create_namespaced_replica_set, ns, replicaset(name, {"name": "sample-pod"}))
    p = _check_status_endpoints(raw, f"/apis/apps/v1/namespaces/{ns}/replicasets/{name}")
    assert p["spec"]["replicas"] == 1


def test_replicaset_list_and_delete_collection(apps, ns):
    """[sig-apps] ReplicaSet should list and delete a collection of ReplicaSets (API part)."""
    name = "test-rs"
    j(apps.create_namespaced_replica_set, ns, replicaset(name, {"name": "sample-pod", "e2e": ns}))
    lst = j(apps.list_replica_set_for_all_namespaces, label_selector=f"e2e={ns}")
    assert [r["metadata"]["name"] for r in lst["items"]] == [name]
    apps.delete_collection_namespaced_replica_set(ns, label_selector=f"e2e={ns}")
    assert j(apps.list_replica_set_for_all_namespaces, label_selector=f"e2e={ns}")["items"] == []


def test_statefulset_scale_subresource(apps, ns):
    """[sig-apps] StatefulSet should have a working scale subresource (API part)."""
    name = "ss"
    j(apps.create_namespaced_stateful_set, ns, statefulset(name, {"foo": "bar", "baz": "blah"}))
    _check_scale(apps.read_namespaced_stateful_set_scale, apps.replace_namespaced_stateful_set_scale,
                 apps.patch_namespaced_stateful_set_scale, apps.read_namespaced_stateful_set, name, ns)


def test_statefulset_status_endpoints(apps, raw, ns):
    """[sig-apps] StatefulSet should validate Statefulset Status endpoints (API part)."""
    name = "ss"
    j(apps.create_namespaced_stateful_set, ns, statefulset(name, {"foo": "bar"}))
    p = _check_status_endpoints(raw, f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}")
    assert p["spec"]["replicas"] == 1


def test_statefulset_list_patch_delete_collection(apps, ns):
    """[sig-apps] StatefulSet should list, patch and delete a collection of StatefulSets (API part)."""
    name = "ss"
    j(apps.create_namespaced_stateful_set, ns, statefulset(name, {"foo": "bar", "e2e": ns}))
    lst = j(apps.list_stateful_set_for_all_namespaces, label_selector=f"e2e={ns}")
    assert [x["metadata"]["name"] for x in lst["items"]] == [name]
    p = j(apps.patch_namespaced_stateful_set, name, ns, {"metadata": {"labels": {"test-ss": "patched"}},
                                                      "spec": {"replicas": 2, "template": {"spec": {
                                                          "terminationGracePeriodSeconds": 1}}}})
    assert p["metadata"]["labels"]["test-ss"] == "patched" and p["spec"]["replicas"] == 2
    apps.delete_collection_namespaced_stateful_set(ns, label_selector=f"e2e={ns}")
    assert j(apps.list_stateful_set_for_all_namespaces, label_selector=f"e2e={ns}")["items"] == []


def test_daemonset_status_endpoints(apps, raw, ns):
    """[sig-apps] Daemon set should verify changes to a daemon set status (API part)."""
    name = "daemon-set"
    j(apps.create_namespaced_daemon_set, ns, daemonset(name, {"daemonset-name": name}))
    lst = j(apps.list_daemon_set_for_all_namespaces, label_selector=f"daemonset-name={name}")
    assert name in [d["metadata"]["name"] for d in lst["items"] if d["metadata"]["namespace"] == ns]
    _check_status_endpoints(raw, f"/apis/apps/v1/namespaces/{ns}/daemonsets/{name}")


def test_daemonset_list_delete_collection(apps, ns):
    """[sig-apps] Daemon set should list and delete a collection of DaemonSets (API part)."""
    name = "daemon-set"
    j(apps.create_namespaced_daemon_set, ns, daemonset(name, {"daemonset-name": name, "e2e": ns}))
    lst = j(apps.list_daemon_set_for_all_namespaces, label_selector=f"e2e={ns}")
    assert [d["metadata"]["name"] for d in lst["items"]] == [name]
    apps.delete_collection_namespaced_daemon_set(ns, label_selector=f"e2e={ns}")
    assert j(apps.list_daemon_set_for_all_namespaces, label_selector=f"e2e={ns}")["items"] == []


def test_controllerrevision_lifecycle(apps, ns):
    """[sig-apps] ControllerRevision should manage the lifecycle of a ControllerRevision (API part:
    the revision is created by hand instead of by the DaemonSet controller)."""
    ds = j(apps.create_namespaced_daemon_set, ns, daemonset("e2e-ds", {"daemonset-name": "e2e-ds"}))
    label = "daemonset-name=e2e-ds"
    cr = {"metadata": {"name": "e2e-ds-rev1", "labels": {"daemonset-name": "e2e-ds"},
                       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                            "name": ds["metadata"]["name"], "uid": ds["metadata"]["uid"],
                                            "controller": True, "blockOwnerDeletion": True}]},
          "data": {"spec": {"template": {"$patch": "replace"}}}, "revision": 1}
    apps.create_namespaced_controller_revision(ns, cr)
    lst = apps.list_controller_revision_for_all_namespaces(label_selector=label)
    assert "e2e-ds-rev1" in [c.metadata.name for c in lst.items]
    p = apps.patch_namespaced_controller_revision("e2e-ds-rev1", ns,
                                                  {"metadata": {"labels": {"e2e-ds-rev1": "patched"}}})
    assert p.metadata.labels["e2e-ds-rev1"] == "patched"
    cr["metadata"]["name"] = "e2e-ds-rev2"
    cr["revision"] = 2
    apps.create_namespaced_controller_revision(ns, cr)
    apps.delete_namespaced_controller_revision("e2e-ds-rev1", ns)
    r = apps.read_namespaced_controller_revision("e2e-ds-rev2", ns)
    r.metadata.labels["e2e-ds-rev2"] = "updated"
    u = apps.replace_namespaced_controller_revision("e2e-ds-rev2", ns, r)
    assert u.metadata.labels["e2e-ds-rev2"] == "updated" and u.revision == 2
    apps.delete_collection_namespaced_controller_revision(ns, label_selector="e2e-ds-rev2=updated")
    # The DaemonSet controller keeps its own revision; the hand-made ones are gone.
    left = [c.metadata.name for c in apps.list_namespaced_controller_revision(ns, label_selector=label).items]
    assert "e2e-ds-rev1" not in left and "e2e-ds-rev2" not in left, left


def test_replicationcontroller_scale(core, ns):
    """[sig-apps] ReplicationController should get and update a ReplicationController scale
    (API part)."""
    name = "rc-test"
    j(core.create_namespaced_replication_controller, ns, {"metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"name": "rc-test"}, "template": _tmpl({"name": "rc-test"})}})
    sc = j(core.read_namespaced_replication_controller_scale, name, ns)
    assert sc["spec"]["replicas"] == 1

    def update():
        sc = j(core.read_namespaced_replication_controller_scale, name, ns)
        sc["spec"]["replicas"] = 2
        return j(core.replace_namespaced_replication_controller_scale, name, ns, sc)
    retry_on_conflict(update)
    assert j(core.read_namespaced_replication_controller, name, ns)["spec"]["replicas"] == 2
    p = j(core.patch_namespaced_replication_controller_scale, name, ns, {"spec": {"replicas": 3}})
    assert p["spec"]["replicas"] == 3


# --- batch ------------------------------------------------------------------

def _jobspec():
    return {"template": {"spec": {"restartPolicy": "Never",
                                  "containers": [{"name": "c", "image": "busybox"}]}}}


def test_cronjob_api_operations(batch, raw, ns):
    """[sig-apps] CronJob should support CronJob API operations."""
    grp = raw.json("GET", "/apis/batch")
    assert "batch/v1" in [v["groupVersion"] for v in grp["versions"]]
    rl = raw.json("GET", "/apis/batch/v1")
    names = {r["name"] for r in rl["resources"]}
    assert {"cronjobs", "cronjobs/status"} <= names
    label = {"special-label": unique("cj")}
    sel = "special-label=" + label["special-label"]
    body = lambda n: {"metadata": {"name": n, "labels": label},
                      "spec": {"schedule": "@hourly", "suspend": True,
                               "jobTemplate": {"spec": _jobspec()}}}
    rv0 = batch.list_namespaced_cron_job(ns).metadata.resource_version
    batch.create_namespaced_cron_job(ns, body("e2e-cj-1"))
    batch.create_namespaced_cron_job(ns, body("e2e-cj-2"))
    assert batch.read_namespaced_cron_job("e2e-cj-1", ns).spec.schedule == "@hourly"
    assert len(batch.list_namespaced_cron_job(ns, label_selector=sel).items) == 2
    assert len(batch.list_cron_job_for_all_namespaces(label_selector=sel).items) == 2
    evs = watch_events(batch.list_namespaced_cron_job, namespace=ns, timeout=5, resource_version=rv0,
                       label_selector=sel, stop=lambda e: len(e) >= 2)
    assert [t for t, _ in evs] == ["ADDED", "ADDED"]
    p = batch.patch_namespaced_cron_job("e2e-cj-1", ns, {"metadata": {"annotations": {"patched": "true"}}})
    assert p.metadata.annotations["patched"] == "true"
    def update_cj():
        cj = batch.read_namespaced_cron_job("e2e-cj-1", ns)
        cj.metadata.annotations["updated"] = "true"
        return batch.replace_namespaced_cron_job("e2e-cj-1", ns, cj)
    u = retry_on_conflict(update_cj)
    assert u.metadata.annotations["updated"] == "true"
    # status subresource
    ts = "2024-01-01T00:00:00Z"
    p = batch.patch_namespaced_cron_job_status("e2e-cj-1", ns, {"status": {"lastScheduleTime": ts}})
    assert p.status.last_schedule_time is not None
    st = batch.read_namespaced_cron_job_status("e2e-cj-1", ns)
    assert st.status.last_schedule_time == p.status.last_schedule_time

    def update_st():
        st = batch.read_namespaced_cron_job_status("e2e-cj-1", ns)
        st.status.last_schedule_time = "2024-01-02T00:00:00Z"
        return batch.replace_namespaced_cron_job_status("e2e-cj-1", ns, st)
    u = retry_on_conflict(update_st)
    assert u.status.last_schedule_time.day == 2
    batch.delete_namespaced_cron_job("e2e-cj-2", ns)
    assert len(batch.list_namespaced_cron_job(ns, label_selector=sel).items) == 1
    batch.delete_collection_namespaced_cron_job(ns, label_selector=sel)
    assert batch.list_namespaced_cron_job(ns, label_selector=sel).items == []


def test_job_status(batch, ns):
    """[sig-apps] Job should apply changes to a job status (API part)."""
    name = "e2e-job"
    batch.create_namespaced_job(ns, {"metadata": {"name": name}, "spec": dict(_jobspec(), suspend=True)})
    j = batch.read_namespaced_job_status(name, ns)
    start = "2024-01-01T00:00:00Z"
    p = batch.patch_namespaced_job_status(name, ns, {"metadata": {"annotations": {"patchedstatus": "true"}},
                                                     "status": {"startTime": start}})
    assert p.status.start_time is not None
    assert p.metadata.annotations["patchedstatus"] == "true"
    def update():
        j = batch.read_namespaced_job_status(name, ns)
        j.status.start_time = "2024-01-02T00:00:00Z"
        return batch.replace_namespaced_job_status(name, ns, j)
    u = retry_on_conflict(update)
    assert u.status.start_time.day == 2


def test_job_lifecycle(batch, ns):
    """[sig-apps] Job should manage the lifecycle of a job (suspended job: API part)."""
    name = "e2e-job-" + unique("x")[-5:]
    label = {"e2e-job-label": name}
    sel = f"e2e-job-label={name}"
    rv0 = batch.list_namespaced_job(ns).metadata.resource_version
    batch.create_namespaced_job(ns, {"metadata": {"name": name, "labels": label},
                                     "spec": dict(_jobspec(), suspend=True)})
    p = batch.patch_namespaced_job(name, ns, {"metadata": {"labels": {name: "patched"}}})
    assert p.metadata.labels[name] == "patched"
    def update():
        j = batch.read_namespaced_job(name, ns)
        j.metadata.annotations = {"updated": "true"}
        return batch.replace_namespaced_job(name, ns, j)
    u = retry_on_conflict(update)
    assert u.metadata.annotations["updated"] == "true"
    lst = batch.list_job_for_all_namespaces(label_selector=sel)
    assert [x.metadata.name for x in lst.items] == [name]
    batch.delete_collection_namespaced_job(ns, label_selector=sel, propagation_policy="Background")
    evs = watch_events(batch.list_namespaced_job, namespace=ns, timeout=5, resource_version=rv0,
                       label_selector=sel, stop=lambda e: e[-1][0] == "DELETED")
    assert evs[0][0] == "ADDED" and evs[-1][0] == "DELETED"
    assert batch.list_job_for_all_namespaces(label_selector=sel).items == []


# --- coordination.k8s.io -------------------------------------------------------

def test_lease_api(api_client, ns):
    """[sig-node] Lease lease API should be available."""
    co = client.CoordinationV1Api(api_client)
    name = "lease"
    co.create_namespaced_lease(ns, {"metadata": {"name": name},
        "spec": {"holderIdentity": "holder", "leaseDurationSeconds": 30,
                 "acquireTime": "2024-01-01T00:00:00.000000Z", "renewTime": "2024-01-01T00:00:00.000000Z"}})
    l = co.read_namespaced_lease(name, ns)
    assert l.spec.holder_identity == "holder"
    l.spec.holder_identity = "holder2"
    l.spec.lease_duration_seconds = 60
    u = co.replace_namespaced_lease(name, ns, l)
    assert u.spec.holder_identity == "holder2"
    p = co.patch_namespaced_lease(name, ns, {"spec": {"holderIdentity": "holder3",
                                                      "leaseDurationSeconds": 90}})
    assert p.spec.holder_identity == "holder3" and p.spec.lease_duration_seconds == 90
    co.create_namespaced_lease(ns, {"metadata": {"name": "lease2", "labels": {"deletecollection": "true"}},
                                    "spec": {"holderIdentity": "holder"}})
    assert len(co.list_namespaced_lease(ns).items) == 2
    assert len(co.list_lease_for_all_namespaces(label_selector="deletecollection=true").items) >= 1
    co.delete_collection_namespaced_lease(ns, label_selector="deletecollection=true")
    assert [x.metadata.name for x in co.list_namespaced_lease(ns).items] == [name]
    co.delete_namespaced_lease(name, ns)
    with pytest.raises(ApiException) as e:
        co.read_namespaced_lease(name, ns)
    assert e.value.status == 404


# --- discovery.k8s.io --------------------------------------------------------------

def test_endpointslice_api_operations(api_client, raw, ns):
    """[sig-network] EndpointSlice should support creating EndpointSlice API operations."""
    d = client.DiscoveryV1Api(api_client)
    assert "discovery.k8s.io/v1" in [v["groupVersion"] for v in raw.json("GET", "/apis/discovery.k8s.io")["versions"]]
    assert "endpointslices" in {r["name"] for r in raw.json("GET", "/apis/discovery.k8s.io/v1")["resources"]}
    label = {"special-label": ns}
    sel = f"special-label={ns}"
    body = lambda n: {"metadata": {"name": n, "labels": label}, "addressType": "IPv4",
                      "endpoints": [{"addresses": ["1.2.3.4", "5.6.7.8"]}],
                      "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    rv0 = d.list_namespaced_endpoint_slice(ns).metadata.resource_version
    for n in ("e2e-es-1", "e2e-es-2", "e2e-es-3"):
        d.create_namespaced_endpoint_slice(ns, body(n))
    assert d.read_namespaced_endpoint_slice("e2e-es-1", ns).endpoints[0].addresses == ["1.2.3.4", "5.6.7.8"]
    assert len(d.list_endpoint_slice_for_all_namespaces(label_selector=sel).items) == 3
    assert len(d.list_namespaced_endpoint_slice(ns, label_selector=sel).items) == 3
    evs = watch_events(d.list_namespaced_endpoint_slice, namespace=ns, timeout=5, resource_version=rv0,
                       label_selector=sel, stop=lambda e: len(e) >= 3)
    assert [t for t, _ in evs] == ["ADDED"] * 3
    p = d.patch_namespaced_endpoint_slice("e2e-es-1", ns, {"metadata": {"annotations": {"patched": "true"}}})
    assert p.metadata.annotations["patched"] == "true"
    es = d.read_namespaced_endpoint_slice("e2e-es-1", ns)
    es.metadata.annotations["updated"] = "true"
    u = d.replace_namespaced_endpoint_slice("e2e-es-1", ns, es)
    assert u.metadata.annotations["updated"] == "true"
    d.delete_namespaced_endpoint_slice("e2e-es-1", ns)
    with pytest.raises(ApiException) as e:
        d.read_namespaced_endpoint_slice("e2e-es-1", ns)
    assert e.value.status == 404
    assert len(d.list_namespaced_endpoint_slice(ns, label_selector=sel).items) == 2
    d.delete_collection_namespaced_endpoint_slice(ns, label_selector=sel)
    assert d.list_namespaced_endpoint_slice(ns, label_selector=sel).items == []


def test_status_required_zero_fields(raw, ns):
    """Not an upstream test by itself: a new ReplicaSet/StatefulSet/RC/DaemonSet carries
    status.replicas: 0 (resp. the four DaemonSet counters) like upstream."""
    rs = raw.json("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", replicaset("rs", {"a": "b"}), expect=201)
    assert rs["status"].get("replicas") == 0, rs["status"]
    ss = raw.json("POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", statefulset("ss", {"a": "b"}), expect=201)
    assert ss["status"].get("replicas") == 0, ss["status"]
    ds = raw.json("POST", f"/apis/apps/v1/namespaces/{ns}/daemonsets", daemonset("ds", {"a": "b"}), expect=201)
    for k in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"):
        assert ds["status"].get(k) == 0, ds["status"]
