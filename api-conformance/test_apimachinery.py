"""Ports of [sig-api-machinery] conformance tests that need only the API server."""
import json
import re
import threading

import pytest
from kubernetes import client

from conftest import unique, watch_events


# --- server version (get_server_version.go / server_version.go) ------------

def test_server_version(raw):
    """server version should find the server version."""
    v = raw.json("GET", "/version")
    assert re.fullmatch(r"\d+", v["major"]), v
    assert re.fullmatch(r"\d+\+?", v["minor"]), v
    assert re.match(r"v\d+\.\d+\.\d+", v["gitVersion"]), v
    for key in ("gitCommit", "buildDate", "goVersion", "compiler", "platform"):
        assert key in v, key


# --- discovery.go ------------------------------------------------------------

def test_discovery_preferred_version(raw):
    """Discovery should validate PreferredVersion for each APIGroup."""
    groups = raw.json("GET", "/apis")
    assert groups["kind"] == "APIGroupList"
    assert groups["groups"]
    for g in groups["groups"]:
        versions = [v["groupVersion"] for v in g["versions"]]
        assert g["preferredVersion"]["groupVersion"] in versions, g
        # the per-group document agrees with the list
        one = raw.json("GET", "/apis/" + g["name"])
        assert one["kind"] == "APIGroup"
        assert one["preferredVersion"] == g["preferredVersion"]


def test_discovery_locate_group_version_and_resource(raw):
    """Discovery should locate the groupVersion and a resource within each APIGroup."""
    expected = {"apps/v1": "deployments", "batch/v1": "jobs",
                "coordination.k8s.io/v1": "leases",
                "discovery.k8s.io/v1": "endpointslices", "events.k8s.io/v1": "events"}
    groups = raw.json("GET", "/apis")
    found = set()
    for g in groups["groups"]:
        for v in g["versions"]:
            rl = raw.json("GET", "/apis/" + v["groupVersion"])
            assert rl["kind"] == "APIResourceList"
            assert rl["groupVersion"] == v["groupVersion"]
            assert rl["resources"], v
            names = [r["name"] for r in rl["resources"]]
            if v["groupVersion"] in expected:
                assert expected[v["groupVersion"]] in names
                found.add(v["groupVersion"])
    assert found == set(expected)
    core = raw.json("GET", "/api")
    assert core["kind"] == "APIVersions" and "v1" in core["versions"]
    rl = raw.json("GET", "/api/v1")
    assert rl["groupVersion"] == "v1"
    assert {"pods", "configmaps", "namespaces"} <= {r["name"] for r in rl["resources"]}


# --- aggregated_discovery.go -------------------------------------------------

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def _check_aggregated(r, path):
    assert r.status == 200, (path, r.status, r.data[:300])
    ctype = r.headers.get("Content-Type", "")
    assert "apidiscovery.k8s.io" in ctype and "APIGroupDiscoveryList" in ctype, ctype
    doc = json.loads(r.data)
    assert doc["kind"] == "APIGroupDiscoveryList"
    return doc


@pytest.mark.parametrize("accept", [
    AGG_V2,
    AGG_V2 + "," + AGG_V2BETA1 + ",application/json",
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.9,application/json;q=0.8",
])
def test_aggregated_discovery_accept_headers(raw, accept):
    """AggregatedDiscovery should support raw aggregated discovery endpoint Accept headers."""
    for path in ("/api", "/apis"):
        doc = _check_aggregated(raw.request("GET", path, headers={"Accept": accept}), path)
        if path == "/api":
            assert any(v["version"] == "v1" for item in doc["items"] for v in item["versions"])
        else:
            assert "apps" in [i["metadata"]["name"] for i in doc["items"]]
    # plain JSON still gets the unaggregated documents
    r = raw.json("GET", "/apis", headers={"Accept": "application/json"})
    assert r["kind"] == "APIGroupList"
    r = raw.json("GET", "/api", headers={"Accept": "application/json"})
    assert r["kind"] == "APIVersions"


def test_aggregated_discovery_interface(raw):
    """AggregatedDiscovery should support aggregated discovery interface (core and apps)."""
    doc = _check_aggregated(raw.request("GET", "/api", headers={"Accept": AGG_V2}), "/api")
    v1 = [v for item in doc["items"] for v in item["versions"] if v["version"] == "v1"][0]
    res = {r["resource"]: r for r in v1["resources"]}
    assert res["pods"]["scope"] == "Namespaced"
    assert res["pods"]["responseKind"]["kind"] == "Pod"
    assert res["namespaces"]["scope"] == "Cluster"
    doc = _check_aggregated(raw.request("GET", "/apis", headers={"Accept": AGG_V2}), "/apis")
    apps = [i for i in doc["items"] if i["metadata"]["name"] == "apps"][0]
    v1 = [v for v in apps["versions"] if v["version"] == "v1"][0]
    res = {r["resource"]: r for r in v1["resources"]}
    dep = res["deployments"]
    assert dep["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"} or \
        dep["responseKind"]["kind"] == "Deployment"
    subs = {s["subresource"] for s in dep.get("subresources", [])}
    assert {"scale", "status"} <= subs


# --- chunking.go -------------------------------------------------------------

def test_chunking_list(core, ns):
    """Servers with support for API chunking should return chunks of results for list calls."""
    total = 400
    for i in range(total):
        core.create_namespaced_pod_template(ns, client.V1PodTemplate(
            metadata=client.V1ObjectMeta(name=f"template-{i:04d}"),
            template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                containers=[client.V1Container(name="test", image="busybox")]))))
    found, cont, last_rv = 0, None, None
    while True:
        lst = core.list_namespaced_pod_template(ns, limit=17, _continue=cont)
        assert len(lst.items) <= 17
        if last_rv is not None:
            assert lst.metadata.resource_version == last_rv, "list RV changed between pages"
        last_rv = lst.metadata.resource_version
        found += len(lst.items)
        if lst.metadata._continue:
            assert len(lst.items) == 17
            assert lst.metadata.remaining_item_count == total - found, \
                (lst.metadata.remaining_item_count, total - found)
            cont = lst.metadata._continue
        else:
            assert lst.metadata.remaining_item_count in (None, 0)
            break
    assert found == total
    # larger chunks, in name order
    names, cont = [], None
    while True:
        lst = core.list_namespaced_pod_template(ns, limit=150, _continue=cont)
        names += [t.metadata.name for t in lst.items]
        cont = lst.metadata._continue
        if not cont:
            break
    assert names == [f"template-{i:04d}" for i in range(total)]


# --- table_conversion.go ------------------------------------------------------

def test_table_406_for_backend_without_metadata(raw):
    """Servers with support for Table transformation should return a 406 for a backend which
    does not implement metadata (a SelfSubjectAccessReview create asked for as Table)."""
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}}}
    r = raw.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body,
                    headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    if r.status == 404:
        pytest.skip("authorization.k8s.io not served yet")
    assert r.status == 406, (r.status, r.data[:300])
    assert b"does not implement metadata" in r.data or b"Table" in r.data


# --- field_validation.go ----------------------------------------------------

DEPLOYMENT_DUP = """{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "my-dep", "labels": {"app": "nginx"}},
  "spec": {
    "unknownField": "foo",
    "replicas": 2,
    "replicas": 3,
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}},
                 "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}}
  }
}"""

DEPLOYMENT_META = """{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "my-dep", "unknownMeta": "foo", "labels": {"app": "nginx"}},
  "spec": {
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}},
                 "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}}
  }
}"""


def test_field_validation_typed_unknown_and_duplicate(raw, ns):
    """FieldValidation should detect unknown and duplicate fields of a typed object."""
    r = raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", DEPLOYMENT_DUP,
                    headers={"Content-Type": "application/json"},
                    query={"fieldManager": "field_validation_mgr", "fieldValidation": "Strict"})
    assert r.status == 400, (r.status, r.data[:400])
    msg = json.loads(r.data)["message"]
    assert 'strict decoding error: unknown field "spec.unknownField", duplicate field "spec.replicas"' \
        in msg, msg


def test_field_validation_typed_unknown_metadata(raw, ns):
    """FieldValidation should detect unknown metadata fields of a typed object."""
    r = raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", DEPLOYMENT_META,
                    headers={"Content-Type": "application/json"},
                    query={"fieldManager": "field_validation_mgr", "fieldValidation": "Strict"})
    assert r.status == 400, (r.status, r.data[:400])
    msg = json.loads(r.data)["message"]
    assert 'strict decoding error: unknown field "metadata.unknownMeta"' in msg, msg


# --- watch.go ----------------------------------------------------------------

def _cm(name, labels, data=None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def test_watch_add_update_delete(core, ns):
    """Watchers should observe add, update, and delete watch notifications on configmaps."""
    la, lb = "multiple-watchers-A", "multiple-watchers-B"
    label = "watch-this-configmap"
    rv0 = core.list_namespaced_config_map(ns).metadata.resource_version

    def collect(selector):
        return watch_events(core.list_namespaced_config_map, namespace=ns, timeout=8,
                            label_selector=selector, resource_version=rv0,
                            stop=lambda ev: len(ev) >= {la: 4, lb: 2}.get(selector.split("=")[-1],
                                                                         0) if "in" not in selector else len(ev) >= 6)

    results = {}
    threads = []
    for key, sel in (("A", f"{label}={la}"), ("B", f"{label}={lb}"),
                     ("AB", f"{label} in ({la},{lb})")):
        t = threading.Thread(target=lambda k=key, s=sel: results.__setitem__(k, collect(s)))
        t.start()
        threads.append(t)

    a = core.create_namespaced_config_map(ns, _cm("e2e-watch-test-configmap-a", {label: la}))
    core.patch_namespaced_config_map(a.metadata.name, ns, {"data": {"mutation": "1"}})
    core.patch_namespaced_config_map(a.metadata.name, ns, {"data": {"mutation": "2"}})
    core.delete_namespaced_config_map(a.metadata.name, ns)
    b = core.create_namespaced_config_map(ns, _cm("e2e-watch-test-configmap-b", {label: lb}))
    core.delete_namespaced_config_map(b.metadata.name, ns)
    for t in threads:
        t.join(20)

    def kinds(evs):
        return [(t, o.metadata.name, (o.data or {}).get("mutation")) for t, o in evs]

    assert kinds(results["A"]) == [
        ("ADDED", a.metadata.name, None), ("MODIFIED", a.metadata.name, "1"),
        ("MODIFIED", a.metadata.name, "2"), ("DELETED", a.metadata.name, "2")]
    assert kinds(results["B"]) == [("ADDED", b.metadata.name, None),
                                   ("DELETED", b.metadata.name, None)]
    assert kinds(results["AB"]) == kinds(results["A"]) + kinds(results["B"])


def test_watch_from_specific_resource_version(core, ns):
    """Watchers should be able to start watching from a specific resource version."""
    name = "e2e-watch-test-resource-version"
    cm = core.create_namespaced_config_map(ns, _cm(name, {"watch-this-configmap": "from-resource-version"}))
    first = core.patch_namespaced_config_map(name, ns, {"data": {"mutation": "1"}})
    core.patch_namespaced_config_map(name, ns, {"data": {"mutation": "2"}})
    core.delete_namespaced_config_map(name, ns)
    evs = watch_events(core.list_namespaced_config_map, namespace=ns, timeout=5,
                       resource_version=first.metadata.resource_version,
                       label_selector="watch-this-configmap=from-resource-version",
                       stop=lambda e: len(e) >= 2)
    assert [(t, o.data.get("mutation")) for t, o in evs] == [("MODIFIED", "2"), ("DELETED", "2")]
    assert cm.metadata.resource_version != first.metadata.resource_version


def test_watch_restart_from_last_resource_version(core, ns):
    """Watchers should be able to restart watching from the last resource version observed
    by the previous watch."""
    name = "e2e-watch-test-watch-closed"
    sel = "watch-this-configmap=watch-closed-and-restarted"
    rv0 = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, _cm(name, {"watch-this-configmap": "watch-closed-and-restarted"}))
    core.patch_namespaced_config_map(name, ns, {"data": {"mutation": "1"}})
    evs = watch_events(core.list_namespaced_config_map, namespace=ns, timeout=5,
                       resource_version=rv0, label_selector=sel, stop=lambda e: len(e) >= 2)
    assert [t for t, _ in evs] == ["ADDED", "MODIFIED"]
    last = evs[-1][1].metadata.resource_version
    # changes while no watch is open
    core.patch_namespaced_config_map(name, ns, {"data": {"mutation": "2"}})
    core.delete_namespaced_config_map(name, ns)
    evs = watch_events(core.list_namespaced_config_map, namespace=ns, timeout=5,
                       resource_version=last, label_selector=sel, stop=lambda e: len(e) >= 2)
    assert [(t, o.data.get("mutation")) for t, o in evs] == [("MODIFIED", "2"), ("DELETED", "2")]


def test_watch_object_stops_meeting_selector(core, ns):
    """Watchers should observe an object deletion if it stops meeting the requirements of the
    selector."""
    name = "e2e-watch-test-label-changed"
    key, val = "watch-this-configmap", "label-changed-and-restored"
    sel = f"{key}={val}"
    rv0 = core.list_namespaced_config_map(ns).metadata.resource_version
    done = {}
    t = threading.Thread(target=lambda: done.__setitem__("ev", watch_events(
        core.list_namespaced_config_map, namespace=ns, timeout=10, resource_version=rv0,
        label_selector=sel, stop=lambda e: len(e) >= 5)))
    t.start()
    core.create_namespaced_config_map(ns, _cm(name, {key: val}))
    core.patch_namespaced_config_map(name, ns, {"data": {"mutation": "1"}})
    core.patch_namespaced_config_map(name, ns, {"metadata": {"labels": {key: "wrong-value"}}})
    core.patch_namespaced_config_map(name, ns, {"data": {"mutation": "2"}})  # not observed
    core.patch_namespaced_config_map(name, ns, {"metadata": {"labels": {key: val}}})
    core.patch_namespaced_config_map(name, ns, {"data": {"mutation": "3"}})
    core.delete_namespaced_config_map(name, ns)
    t.join(20)
    got = [(ty, (o.data or {}).get("mutation")) for ty, o in done["ev"]]
    assert got[:3] == [("ADDED", None), ("MODIFIED", "1"), ("DELETED", "1")], got
    assert got[3:] == [("ADDED", "2"), ("MODIFIED", "3"), ("DELETED", "3")] or \
        got[3:5] == [("ADDED", "2"), ("MODIFIED", "3")], got


def test_watch_concurrent_same_order(core, ns):
    """Watchers should receive events on concurrent watches in same order."""
    rv0 = core.list_namespaced_config_map(ns).metadata.resource_version
    n_ops = 60
    import random
    rnd = random.Random(7)
    names = []
    for i in range(n_ops):
        op = rnd.choice(["create", "update", "delete"]) if names else "create"
        if op == "create":
            name = f"cm-{i}"
            core.create_namespaced_config_map(ns, _cm(name, {"watch-this": "yes"}))
            names.append(name)
        elif op == "update":
            core.patch_namespaced_config_map(rnd.choice(names), ns, {"data": {"i": str(i)}})
        else:
            name = names.pop(rnd.randrange(len(names)))
            core.delete_namespaced_config_map(name, ns)

    def run(rv, count):
        evs = watch_events(core.list_namespaced_config_map, namespace=ns, timeout=5,
                           resource_version=rv, stop=lambda e: len(e) >= count)
        return [(t, o.metadata.name, o.metadata.resource_version) for t, o in evs]

    first = run(rv0, n_ops)
    assert len(first) == n_ops
    rvs = [int(rv) for _, _, rv in first]
    assert rvs == sorted(rvs) and len(set(rvs)) == n_ops
    # watches started from several intermediate RVs, concurrently, see the same suffix
    import concurrent.futures
    starts = (5, 20, 40)
    with concurrent.futures.ThreadPoolExecutor(len(starts)) as pool:
        futs = {s: pool.submit(run, first[s - 1][2], n_ops - s) for s in starts}
    for s, f in futs.items():
        assert f.result() == first[s:], s


# --- table_conversion.go (upstream tests that are not in the [Conformance] list) ---------

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def test_table_nodes_generic_metadata(raw):
    """Servers with support for Table transformation should return generic metadata details
    across all namespaces for nodes."""
    t = raw.json("GET", "/api/v1/nodes", headers={"Accept": TABLE},
                 query={"includeObject": "Metadata"})
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in t["columnDefinitions"]][:1] == ["Name"]
    for row in t["rows"]:
        assert row["object"]["kind"] == "PartialObjectMetadata"
        assert row["object"]["metadata"]["name"] == row["cells"][0]


def test_table_chunks(core, raw, ns):
    """Servers with support for Table transformation should return chunks of table results for
    list calls."""
    for i in range(5):
        core.create_namespaced_pod_template(ns, {"metadata": {"name": f"template-{i:04d}"},
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}})
    path = f"/api/v1/namespaces/{ns}/podtemplates"
    t = raw.json("GET", path, headers={"Accept": TABLE}, query={"limit": 2})
    assert t["kind"] == "Table" and len(t["rows"]) == 2
    assert t["metadata"].get("continue")
    t2 = raw.json("GET", path, headers={"Accept": TABLE},
                  query={"limit": 2, "continue": t["metadata"]["continue"]})
    assert len(t2["rows"]) == 2
    assert t2["rows"][0]["cells"][0] == "template-0002"
