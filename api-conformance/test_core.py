"""Ports of core/v1 API conformance tests (ConfigMap, Secret, Namespace, PodTemplate, Event,
Service, Endpoints, LimitRange, ResourceQuota, ServiceAccount, Node)."""
import base64

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from conftest import j, retry_on_conflict, unique, watch_events


def b64(s):
    return base64.b64encode(s.encode()).decode()


def expect_status(code, fn, *a, **kw):
    with pytest.raises(ApiException) as e:
        fn(*a, **kw)
    assert e.value.status == code, (e.value.status, e.value.body)
    return e.value


# --- [sig-node] ConfigMap (common/node/configmap.go) -----------------------

def test_configmap_lifecycle(core, ns):
    """[sig-node] ConfigMap should run through a ConfigMap lifecycle."""
    name = unique("configmap")
    static = {"test-configmap-static": ns}
    core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": static},
                                           "data": {"valueName": "value"}})
    cm = core.read_namespaced_config_map(name, ns)
    assert cm.data == {"valueName": "value"}
    core.patch_namespaced_config_map(name, ns, {"metadata": {"labels": {"test-configmap": "patched"}},
                                                "data": {"valueName": "value1"}})
    lst = core.list_config_map_for_all_namespaces(label_selector=f"test-configmap-static={ns}")
    assert [c.metadata.name for c in lst.items] == [name]
    got = lst.items[0]
    assert got.data["valueName"] == "value1"
    assert got.metadata.labels["test-configmap"] == "patched"
    core.delete_collection_namespaced_config_map(ns, label_selector=f"test-configmap-static={ns}")
    lst = core.list_config_map_for_all_namespaces(label_selector=f"test-configmap-static={ns}")
    assert lst.items == []


def test_configmap_empty_key(core, ns):
    """[sig-node] ConfigMap should fail to create ConfigMap with empty key."""
    expect_status(422, core.create_namespaced_config_map, ns,
                  {"metadata": {"name": unique("configmap-test-emptykey")}, "data": {"": "value-1"}})


def test_configmap_immutable(core, ns):
    """[sig-storage] ConfigMap should be immutable if `immutable` field is set."""
    name = unique("immutable")
    core.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": {"data-1": "value-1"}})
    cm = core.patch_namespaced_config_map(name, ns, {"data": {"data-1": "value-2"}})
    assert cm.data["data-1"] == "value-2"
    cm = core.patch_namespaced_config_map(name, ns, {"immutable": True, "data": {"data-3": "value-3"}})
    assert cm.immutable is True
    expect_status(422, core.patch_namespaced_config_map, name, ns, {"data": {"data-1": "value-3"}})
    expect_status(422, core.patch_namespaced_config_map, name, ns, {"immutable": False})
    cm = core.patch_namespaced_config_map(name, ns, {"metadata": {"labels": {"label1": "value1"}}})
    assert cm.metadata.labels == {"label1": "value1"}
    core.delete_namespaced_config_map(name, ns)
    expect_status(404, core.read_namespaced_config_map, name, ns)


# --- Secrets (common/node/secrets.go, storage/secrets_volume.go) -----------

def test_secret_patch(core, ns):
    """[sig-node] Secrets should patch a secret."""
    name = unique("secret")
    core.create_namespaced_secret(ns, {"metadata": {"name": name, "labels": {"testsecret-constant": ns}},
                                       "data": {"key": b64("value")}, "type": "Opaque"})
    lst = core.list_secret_for_all_namespaces(label_selector=f"testsecret-constant={ns}")
    assert [s.metadata.name for s in lst.items] == [name]
    core.patch_namespaced_secret(name, ns, {"metadata": {"labels": {"testsecret": "true"}},
                                            "data": {"key": b64("value1")}})
    s = core.read_namespaced_secret(name, ns)
    assert base64.b64decode(s.data["key"]).decode() == "value1"
    assert s.metadata.labels["testsecret"] == "true"
    core.delete_collection_namespaced_secret(ns, label_selector=f"testsecret-constant={ns}")
    lst = core.list_secret_for_all_namespaces(label_selector=f"testsecret-constant={ns}")
    assert lst.items == []


def test_secret_empty_key(core, ns):
    """[sig-node] Secrets should fail to create secret due to empty secret key."""
    expect_status(422, core.create_namespaced_secret, ns,
                  {"metadata": {"name": unique("secret-emptykey-test")}, "data": {"": b64("value-1")}})


def test_secret_immutable(core, ns):
    """[sig-storage] Secrets should be immutable if `immutable` field is set."""
    name = unique("immutable")
    core.create_namespaced_secret(ns, {"metadata": {"name": name}, "data": {"data-1": b64("value-1")}})
    s = core.patch_namespaced_secret(name, ns, {"data": {"data-1": b64("value-2")}})
    assert s.data["data-1"] == b64("value-2")
    s = core.patch_namespaced_secret(name, ns, {"immutable": True, "data": {"data-3": b64("value-3")}})
    assert s.immutable is True
    expect_status(422, core.patch_namespaced_secret, name, ns, {"data": {"data-1": b64("value-3")}})
    expect_status(422, core.patch_namespaced_secret, name, ns, {"immutable": False})
    s = core.patch_namespaced_secret(name, ns, {"metadata": {"labels": {"label1": "value1"}}})
    assert s.metadata.labels == {"label1": "value1"}
    core.delete_namespaced_secret(name, ns)
    expect_status(404, core.read_namespaced_secret, name, ns)


# --- Namespaces (apimachinery/namespace.go) ----------------------------------

@pytest.fixture
def extra_ns(core):
    name = unique("nspatchtest")
    core.create_namespace({"metadata": {"name": name}})
    yield name
    try:
        core.delete_namespace(name)
    except ApiException:
        pass


def test_namespace_patch(core, extra_ns):
    """Namespaces should patch a Namespace."""
    core.patch_namespace(extra_ns, {"metadata": {"labels": {"testLabel": "testValue"}}})
    n = core.read_namespace(extra_ns)
    assert n.metadata.labels["testLabel"] == "testValue"


def test_namespace_update(core, extra_ns):
    """Namespaces should apply an update to a Namespace."""
    n = core.read_namespace(extra_ns)
    n.metadata.labels = dict(n.metadata.labels or {}, **{"e2e-ns": "updated"})
    upd = core.replace_namespace(extra_ns, n)
    assert upd.metadata.labels["e2e-ns"] == "updated"
    assert core.read_namespace(extra_ns).metadata.labels["e2e-ns"] == "updated"


def test_namespace_status(core, extra_ns):
    """Namespaces should apply changes to a namespace status."""
    st = core.read_namespace_status(extra_ns)
    assert st.status.phase == "Active"
    cond = {"type": "StatusPatch", "status": "True", "reason": "E2E",
            "message": "Patched by an e2e test"}
    p = core.patch_namespace_status(extra_ns, {"status": {"conditions": [cond]}})
    assert any(c.type == "StatusPatch" and c.reason == "E2E" for c in p.status.conditions)
    n = core.read_namespace_status(extra_ns)
    n.status.conditions.append(client.V1NamespaceCondition(
        type="StatusUpdate", status="True", reason="E2E", message="Updated by an e2e test"))
    u = core.replace_namespace_status(extra_ns, n)
    assert {c.type for c in u.status.conditions} >= {"StatusPatch", "StatusUpdate"}


def test_namespace_finalizer(core, api_client, extra_ns):
    """Namespaces should apply a finalizer to a Namespace (via the finalize subresource)."""
    n = core.read_namespace(extra_ns)
    fin = list(n.spec.finalizers or []) + ["e2e.example.com/fakeFinalizer"]
    n.spec.finalizers = fin
    try:
        upd = core.replace_namespace_finalize(extra_ns, n)
    except ApiException as e:
        if e.status in (404, 405):
            pytest.skip("namespaces/finalize not served yet")
        raise
    assert "e2e.example.com/fakeFinalizer" in upd.spec.finalizers
    n = core.read_namespace(extra_ns)
    n.spec.finalizers = [f for f in n.spec.finalizers if f != "e2e.example.com/fakeFinalizer"]
    upd = core.replace_namespace_finalize(extra_ns, n)
    assert "e2e.example.com/fakeFinalizer" not in (upd.spec.finalizers or [])


# --- PodTemplates (common/node/podtemplates.go) ------------------------------

def _podtemplate(name, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}


def test_podtemplate_lifecycle(core, ns):
    """PodTemplates should run the lifecycle of PodTemplates."""
    name = "nginx-pod-template-" + unique("x")
    core.create_namespaced_pod_template(ns, _podtemplate(name, {"podtemplate-static": "true"}))
    lst = core.list_namespaced_pod_template(ns, label_selector="podtemplate-static=true")
    assert [p.metadata.name for p in lst.items] == [name]
    core.patch_namespaced_pod_template(name, ns, {"metadata": {"labels": {"podtemplate": "patched"}}})
    pt = core.read_namespaced_pod_template(name, ns)
    assert pt.metadata.labels["podtemplate"] == "patched"
    core.delete_namespaced_pod_template(name, ns)
    assert core.list_namespaced_pod_template(ns, label_selector="podtemplate-static=true").items == []


def test_podtemplate_delete_collection(core, ns):
    """PodTemplates should delete a collection of pod templates."""
    for i in range(3):
        core.create_namespaced_pod_template(ns, _podtemplate(f"test-podtemplate-{i}", {"podtemplate-set": "true"}))
    assert len(core.list_namespaced_pod_template(ns, label_selector="podtemplate-set=true").items) == 3
    core.delete_collection_namespaced_pod_template(ns, label_selector="podtemplate-set=true")
    assert core.list_namespaced_pod_template(ns, label_selector="podtemplate-set=true").items == []


def test_podtemplate_replace(core, ns):
    """PodTemplates should replace a pod template."""
    name = "podtemplate-" + unique("x")
    core.create_namespaced_pod_template(ns, _podtemplate(name))
    pt = core.read_namespaced_pod_template(name, ns)
    pt.template.spec.termination_grace_period_seconds = 1
    core.replace_namespaced_pod_template(name, ns, pt)
    assert core.read_namespaced_pod_template(name, ns).template.spec.termination_grace_period_seconds == 1


# --- core/v1 Events (instrumentation/core_events.go) -------------------------

def _event(name, ns, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "message": "This is a test event", "reason": "Test", "type": "Normal", "count": 1,
            "involvedObject": {"kind": "Pod", "name": "test-pod", "namespace": ns},
            "source": {"component": "e2e"}}


def test_core_event_lifecycle(core, ns):
    """[sig-instrumentation] Events should manage the lifecycle of an event."""
    name = unique("event-test")
    core.create_namespaced_event(ns, _event(name, ns, {"testevent-constant": "true"}))
    lst = core.list_event_for_all_namespaces(label_selector="testevent-constant=true")
    assert name in [e.metadata.name for e in lst.items]
    core.patch_namespaced_event(name, ns, {"message": "This is a test event - patched"})
    ev = core.read_namespaced_event(name, ns)
    assert ev.message == "This is a test event - patched"
    ev.message = "This is a test event - updated"
    ev.series = None
    core.replace_namespaced_event(name, ns, ev)
    assert core.read_namespaced_event(name, ns).message == "This is a test event - updated"
    core.delete_namespaced_event(name, ns)
    lst = core.list_namespaced_event(ns, label_selector="testevent-constant=true")
    assert lst.items == []


def test_core_event_delete_collection(core, ns):
    """[sig-instrumentation] Events should delete a collection of events."""
    for n in ("test-event-1", "test-event-2", "test-event-3"):
        core.create_namespaced_event(ns, _event(n, ns, {"testevent-set": "true"}))
    assert len(core.list_namespaced_event(ns, label_selector="testevent-set=true").items) == 3
    core.delete_collection_namespaced_event(ns, label_selector="testevent-set=true")
    assert core.list_namespaced_event(ns, label_selector="testevent-set=true").items == []


# --- events.k8s.io/v1 (instrumentation/events.go) -------------------------------

def _ev1(name, ns, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "test-controller",
            "reportingInstance": "test-node", "action": "Do", "reason": "Test", "type": "Normal",
            "note": "This is a test event",
            "regarding": {"kind": "Pod", "name": "test-pod", "namespace": ns}}


def test_events_v1_lifecycle(api_client, ns):
    """[sig-instrumentation] Events API should ensure that an event can be fetched, patched,
    deleted, and listed."""
    ev = client.EventsV1Api(api_client)
    name = unique("event-test")
    ev.create_namespaced_event(ns, _ev1(name, ns, {"testevent-constant": "true"}))
    got = ev.read_namespaced_event(name, ns)
    assert got.note == "This is a test event"
    lst = ev.list_event_for_all_namespaces(label_selector="testevent-constant=true")
    assert name in [e.metadata.name for e in lst.items]
    ev.patch_namespaced_event(name, ns, {"note": "This is a test event - patched",
                                         "series": {"count": 2, "lastObservedTime": "2024-01-01T00:00:01.000000Z"}})
    got = ev.read_namespaced_event(name, ns)
    assert got.note == "This is a test event - patched" and got.series.count == 2
    got.note = "This is a test event - updated"
    ev.replace_namespaced_event(name, ns, got)
    assert ev.read_namespaced_event(name, ns).note == "This is a test event - updated"
    ev.delete_namespaced_event(name, ns)
    expect_status(404, ev.read_namespaced_event, name, ns)
    assert ev.list_namespaced_event(ns, label_selector="testevent-constant=true").items == []


def test_events_v1_delete_collection(api_client, ns):
    """[sig-instrumentation] Events API should delete a collection of events."""
    ev = client.EventsV1Api(api_client)
    for n in ("event-1", "event-2", "event-3"):
        ev.create_namespaced_event(ns, _ev1(n, ns, {"testevent-set": "true"}))
    assert len(ev.list_namespaced_event(ns, label_selector="testevent-set=true").items) == 3
    ev.delete_collection_namespaced_event(ns, label_selector="testevent-set=true")
    assert ev.list_namespaced_event(ns, label_selector="testevent-set=true").items == []


# --- Services / Endpoints (network/service.go) ----------------------------------

def _svc(name, labels=None, **spec):
    s = {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]}
    s.update(spec)
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": s}


def test_endpoint_lifecycle(core, ns):
    """[sig-network] Services should test the lifecycle of an Endpoint."""
    name = "example-empty-endpoint"
    label = f"test-endpoint-static={ns}"
    rv0 = core.list_namespaced_endpoints(ns).metadata.resource_version
    core.create_namespaced_endpoints(ns, {
        "metadata": {"name": name, "labels": {"test-endpoint-static": ns}},
        "subsets": [{"addresses": [{"ip": "10.0.0.24"}],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]})
    lst = core.list_endpoints_for_all_namespaces(label_selector=label)
    assert [e.metadata.name for e in lst.items] == [name]
    core.patch_namespaced_endpoints(name, ns, {
        "metadata": {"labels": {"test-service": "patched"}},
        "subsets": [{"addresses": [{"ip": "10.0.0.25"}],
                     "ports": [{"name": "http-test", "port": 8080, "protocol": "TCP"}]}]})
    ep = core.read_namespaced_endpoints(name, ns)
    assert ep.metadata.labels["test-service"] == "patched"
    assert ep.subsets[0].addresses[0].ip == "10.0.0.25"
    assert ep.subsets[0].ports[0].port == 8080
    core.delete_collection_namespaced_endpoints(ns, label_selector=label)
    evs = watch_events(core.list_namespaced_endpoints, namespace=ns, timeout=5, resource_version=rv0,
                       label_selector=label, stop=lambda e: e[-1][0] == "DELETED")
    assert [t for t, _ in evs] == ["ADDED", "MODIFIED", "DELETED"]
    assert core.list_endpoints_for_all_namespaces(label_selector=label).items == []


def test_service_delete_collection(core, ns):
    """[sig-network] Services should delete a collection of services."""
    for i in range(3):
        core.create_namespaced_service(ns, _svc(f"e2e-svc-{i}", {"e2e-test-service": "delete"}))
    assert len(core.list_namespaced_service(ns, label_selector="e2e-test-service=delete").items) == 3
    core.delete_collection_namespaced_service(ns, label_selector="e2e-test-service=delete")
    assert core.list_namespaced_service(ns, label_selector="e2e-test-service=delete").items == []


def test_service_status_lifecycle(core, ns):
    """[sig-network] Services should complete a service status lifecycle."""
    name = "test-service-" + unique("x")[-5:]
    label = f"test-service-static={ns}"
    core.create_namespaced_service(ns, _svc(name, {"test-service-static": ns}, type="LoadBalancer"))
    lst = core.list_service_for_all_namespaces(label_selector=label)
    assert [s.metadata.name for s in lst.items] == [name]
    st = core.read_namespaced_service_status(name, ns)
    assert st.metadata.name == name
    p = core.patch_namespaced_service_status(name, ns, {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}})
    assert p.status.load_balancer.ingress[0].ip == "203.0.113.1"
    assert p.metadata.annotations["patchedstatus"] == "true"

    def update_status():
        # As upstream, with RetryOnConflict: a load balancer controller may write meanwhile.
        s = core.read_namespaced_service_status(name, ns)
        s.status.conditions = [client.V1Condition(type="StatusUpdate", status="True",
                                                  reason="E2E", message="Set from e2e test",
                                                  last_transition_time="2024-01-01T00:00:00Z")]
        return core.replace_namespaced_service_status(name, ns, s)
    u = retry_on_conflict(update_status)
    assert u.status.conditions[0].type == "StatusUpdate"
    p = core.patch_namespaced_service(name, ns, {"metadata": {"labels": {"test-service": "patched"}}})
    assert p.metadata.labels["test-service"] == "patched"
    core.delete_namespaced_service(name, ns, _preload_content=False)
    expect_status(404, core.read_namespaced_service, name, ns)


def test_service_find_in_all_namespaces(core, ns):
    """[sig-network] Services should find a service from listing all namespaces."""
    core.create_namespaced_service(ns, _svc("test-service"))
    lst = core.list_service_for_all_namespaces()
    assert any(s.metadata.name == "test-service" and s.metadata.namespace == ns for s in lst.items)


def test_service_type_clusterip_to_externalname_api(core, ns):
    """API part of "Services should be able to change the type from ClusterIP to ExternalName":
    the update is accepted and clusterIP is cleared (no DNS check)."""
    core.create_namespaced_service(ns, _svc("clusterip-service", type="ClusterIP"))
    s = core.read_namespaced_service("clusterip-service", ns)
    assert s.spec.cluster_ip
    s.spec.type = "ExternalName"
    s.spec.external_name = "foo.example.com"
    s.spec.cluster_ip = ""
    s.spec.cluster_ips = None
    u = core.replace_namespaced_service("clusterip-service", ns, s)
    assert u.spec.type == "ExternalName" and not u.spec.cluster_ip


# --- LimitRange (scheduling/limit_range.go) -----------------------------------

def test_limitrange_list_patch_delete_collection(core, ns):
    """[sig-scheduling] LimitRange should list, patch and delete a LimitRange by collection."""
    name = unique("e2e-limitrange")
    label = f"e2e-test={name}"
    core.create_namespaced_limit_range(ns, {"metadata": {"name": name, "labels": {"e2e-test": name}},
        "spec": {"limits": [{"type": "Container",
                             "min": {"cpu": "100m", "memory": "100Mi"},
                             "max": {"cpu": "500m", "memory": "500Mi"},
                             "default": {"cpu": "500m", "memory": "500Mi"},
                             "defaultRequest": {"cpu": "100m", "memory": "100Mi"},
                             "maxLimitRequestRatio": {}}]}})
    lst = core.list_limit_range_for_all_namespaces(label_selector=label)
    assert [l.metadata.name for l in lst.items] == [name]
    p = core.patch_namespaced_limit_range(name, ns, {"metadata": {"labels": {name: "patched"}},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "400m", "memory": "400Mi"},
                             "defaultRequest": {"cpu": "100m", "memory": "100Mi"}}]}})
    assert p.metadata.labels[name] == "patched"
    assert p.spec.limits[0].default["memory"] == "400Mi"
    core.delete_collection_namespaced_limit_range(ns, label_selector=f"{name}=patched")
    assert core.list_limit_range_for_all_namespaces(label_selector=label).items == []


# --- ResourceQuota (apimachinery/resource_quota.go), API parts --------------------

def _rq(name, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"hard": {"cpu": "1", "memory": "500Mi"}}}


def test_resourcequota_lifecycle(core, ns):
    """ResourceQuota should manage the lifecycle of a ResourceQuota (API part)."""
    name = unique("e2e-quota")
    core.create_namespaced_resource_quota(ns, _rq(name, {"e2e-rq-label": name}))
    rq = core.read_namespaced_resource_quota(name, ns)
    assert rq.spec.hard["cpu"] == "1"
    lst = core.list_resource_quota_for_all_namespaces(label_selector=f"e2e-rq-label={name}")
    assert [r.metadata.name for r in lst.items] == [name]
    p = core.patch_namespaced_resource_quota(name, ns, {"metadata": {"labels": {name: "patched"}},
                                                        "spec": {"hard": {"memory": "750Mi"}}})
    assert p.spec.hard["memory"] == "750Mi" and p.metadata.labels[name] == "patched"
    core.delete_collection_namespaced_resource_quota(ns, label_selector=f"e2e-rq-label={name}")
    expect_status(404, core.read_namespaced_resource_quota, name, ns)


def test_resourcequota_update_and_delete(core, ns):
    """ResourceQuota should be able to update and delete ResourceQuota."""
    name = "test-quota"
    core.create_namespaced_resource_quota(ns, _rq(name))
    def update():
        rq = core.read_namespaced_resource_quota(name, ns)
        rq.spec.hard["cpu"] = "2"
        return core.replace_namespaced_resource_quota(name, ns, rq)
    # The quota controller writes status concurrently: retry on conflict, as upstream does.
    retry_on_conflict(update)
    assert core.read_namespaced_resource_quota(name, ns).spec.hard["cpu"] == "2"
    core.delete_namespaced_resource_quota(name, ns, _preload_content=False)
    expect_status(404, core.read_namespaced_resource_quota, name, ns)


def test_resourcequota_status(core, ns):
    """ResourceQuota should apply changes to a resourcequota status."""
    name = unique("e2e-rq-status")
    core.create_namespaced_resource_quota(ns, _rq(name))
    # The quota controller writes status too: retry on conflict, as upstream's test does.
    for attempt in range(10):
        rq = core.read_namespaced_resource_quota_status(name, ns)
        rq.status = client.V1ResourceQuotaStatus(hard={"cpu": "1", "memory": "500Mi"},
                                                 used={"cpu": "0", "memory": "0"})
        try:
            u = core.replace_namespaced_resource_quota_status(name, ns, rq)
            break
        except ApiException as e:
            if e.status != 409 or attempt == 9:
                raise
    assert u.status.hard["cpu"] == "1" and u.status.used["memory"] == "0"
    p = core.patch_namespaced_resource_quota_status(name, ns, {"status": {"used": {"cpu": "500m"}}})
    assert p.status.used["cpu"] == "500m"
    # spec is not changed through status
    p = core.patch_namespaced_resource_quota_status(name, ns, {"spec": {"hard": {"cpu": "7"}}})
    assert p.spec.hard["cpu"] == "1"


# --- ServiceAccounts (auth/service_accounts.go) ---------------------------------

def test_serviceaccount_lifecycle(core, ns):
    """[sig-auth] ServiceAccounts should run through the lifecycle of a ServiceAccount."""
    name = "e2e-sa-" + unique("x")[-5:]
    label = f"test-serviceaccount-static={ns}"
    rv0 = core.list_namespaced_service_account(ns).metadata.resource_version
    core.create_namespaced_service_account(ns, {"metadata": {"name": name,
                                                             "labels": {"test-serviceaccount-static": ns}}})
    p = core.patch_namespaced_service_account(name, ns, {"automountServiceAccountToken": False})
    assert p.automount_service_account_token is False
    lst = core.list_service_account_for_all_namespaces(label_selector=label)
    assert [s.metadata.name for s in lst.items] == [name]
    core.delete_collection_namespaced_service_account(ns, label_selector=label)
    evs = watch_events(core.list_namespaced_service_account, namespace=ns, timeout=5,
                       resource_version=rv0, label_selector=label,
                       stop=lambda e: e[-1][0] == "DELETED")
    assert [t for t, _ in evs][0] == "ADDED" and evs[-1][0] == "DELETED"
    assert core.list_service_account_for_all_namespaces(label_selector=label).items == []


def test_serviceaccount_update(core, ns):
    """[sig-auth] ServiceAccounts should update a ServiceAccount."""
    name = "e2e-sa-" + unique("x")[-5:]
    core.create_namespaced_service_account(ns, {"metadata": {"name": name}})
    sa = core.read_namespaced_service_account(name, ns)
    sa.automount_service_account_token = True
    u = core.replace_namespaced_service_account(name, ns, sa)
    assert u.automount_service_account_token is True
    p = core.patch_namespaced_service_account(name, ns, {"automountServiceAccountToken": False})
    assert p.automount_service_account_token is False
    assert core.read_namespaced_service_account(name, ns).automount_service_account_token is False


# --- Node lifecycle (node/node_lifecycle.go? e2e/node), API part ----------------

def test_node_lifecycle(core):
    """[sig-node] Node Lifecycle should run through the lifecycle of a node (fake node: API only)."""
    name = unique("e2e-fake-node")
    core.create_node({"metadata": {"name": name, "labels": {"e2e-fake-node": name}},
                      "spec": {"taints": [{"key": "e2e", "value": "fake", "effect": "NoSchedule"}]},
                      "status": {"phase": "Running"}})
    try:
        lst = core.list_node(label_selector=f"e2e-fake-node={name}")
        assert [n.metadata.name for n in lst.items] == [name]
        p = core.patch_node(name, {"metadata": {"labels": {name: "patched"}}})
        assert p.metadata.labels[name] == "patched"
        n = core.read_node_status(name)
        n.status.conditions = [client.V1NodeCondition(type="Ready", status="False", reason="E2E",
                                                      message="Set from an e2e test")]
        u = core.replace_node_status(name, n)
        assert u.status.conditions[0].reason == "E2E"
        core.delete_node(name)
        expect_status(404, core.read_node, name)
    finally:
        try:
            core.delete_node(name)
        except ApiException:
            pass


def test_delete_returns_object_for_services_and_quotas(raw, core, ns):
    """Not an upstream test by itself: clients (e.g. the typed Python client) decode the DELETE
    reply of services and resourcequotas as the object."""
    core.create_namespaced_service(ns, _svc("s1"))
    core.create_namespaced_resource_quota(ns, _rq("q1"))
    svc = raw.json("DELETE", f"/api/v1/namespaces/{ns}/services/s1")
    assert svc["kind"] == "Service", svc
    rq = raw.json("DELETE", f"/api/v1/namespaces/{ns}/resourcequotas/q1")
    assert rq["kind"] == "ResourceQuota", rq


def test_namespace_delete_removes_services(core):
    """Namespaces should ensure that all services are removed when a namespace is deleted."""
    import time
    name = unique("nsdeletetest")
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_service(name, _svc("test-service"))
    core.delete_namespace(name)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            core.read_namespace(name)
        except ApiException as e:
            if e.status == 404:
                break
        time.sleep(0.5)
    else:
        pytest.fail("namespace was not deleted within 60s")
    core.create_namespace({"metadata": {"name": name}})
    try:
        assert core.list_namespaced_service(name).items == []
    finally:
        core.delete_namespace(name)


def test_secret_default_type(core, ns):
    """Not an upstream test by itself: a Secret created without type is defaulted to Opaque."""
    s = core.create_namespaced_secret(ns, {"metadata": {"name": "untyped"}, "data": {"a": b64("b")}})
    assert s.type == "Opaque"


def test_namespace_delete_removes_pods(core):
    """Namespaces should ensure that all pods are removed when a namespace is deleted (API part:
    the pod is not waited for to run)."""
    import time
    name = unique("nsdeletetest")
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_pod(name, {"metadata": {"name": "test-pod"},
                                      "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}})
    core.delete_namespace(name)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            core.read_namespace(name)
        except ApiException as e:
            if e.status == 404:
                break
        time.sleep(0.5)
    else:
        pytest.fail("namespace was not deleted within 60s")
    core.create_namespace({"metadata": {"name": name}})
    try:
        assert core.list_namespaced_pod(name).items == []
    finally:
        core.delete_namespace(name)


# --- Pods (common/node/pods.go), API parts -----------------------------------------

def _pod(name, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "agnhost", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}]}}


def test_pod_patch_status(core, ns):
    """[sig-node] Pods should patch a pod status (API part: the pod is not run)."""
    core.create_namespaced_pod(ns, _pod("pod-status"))
    p = j(core.patch_namespaced_pod_status, "pod-status", ns, {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"message": "Patched by e2e test", "reason": "E2E"}})
    assert p["metadata"]["annotations"]["patchedstatus"] == "true"
    assert p["status"]["message"] == "Patched by e2e test" and p["status"]["reason"] == "E2E"
    got = j(core.read_namespaced_pod_status, "pod-status", ns)
    assert got["status"]["reason"] == "E2E"


def test_pod_delete_collection(core, ns):
    """[sig-node] Pods should delete a collection of pods (API part: the pods are not run)."""
    for i in range(3):
        core.create_namespaced_pod(ns, _pod(f"test-pod-{i}", {"type": "Testing"}))
    assert len(core.list_namespaced_pod(ns, label_selector="type=Testing").items) == 3
    core.delete_collection_namespaced_pod(ns, label_selector="type=Testing", grace_period_seconds=1)
    import time
    deadline = time.time() + 60
    while core.list_namespaced_pod(ns, label_selector="type=Testing").items:
        assert time.time() < deadline, "pods not deleted within 60s"
        time.sleep(0.5)
