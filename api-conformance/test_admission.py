"""Ports of the admission-related conformance tests (API parts): ServiceAccounts (token mount,
automount opt-out, kube-root-ca.crt, OIDC issuer discovery), ResourceQuota accounting and
LimitRange defaults (test/e2e/auth/service_accounts.go, test/e2e/apimachinery/resource_quota.go,
test/e2e/scheduling/limit_range.go)."""
import base64
import json
import time

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from conftest import j, unique

TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def eventually(fn, timeout=30, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def forbidden(fn, *a, **kw):
    with pytest.raises(ApiException) as e:
        fn(*a, **kw)
    assert e.value.status == 403, (e.value.status, e.value.body)
    return json.loads(e.value.body)["message"]


def pod(name, sa=None, automount=None, resources=None):
    spec = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
    if sa:
        spec["serviceAccountName"] = sa
    if automount is not None:
        spec["automountServiceAccountToken"] = automount
    if resources is not None:
        spec["containers"][0]["resources"] = resources
    return {"metadata": {"name": name}, "spec": spec}


def wait_default_sa(core, ns):
    def has():
        try:
            core.read_namespaced_service_account("default", ns)
            return True
        except ApiException:
            return False
    eventually(has)


def token_mount(p):
    """The pod's token volume name when every container mounts it at the token path."""
    mounts = [m for m in p["spec"]["containers"][0].get("volumeMounts", [])
              if m["mountPath"] == TOKEN_PATH]
    return mounts[0]["name"] if mounts else None


# --- [sig-auth] ServiceAccounts (auth/service_accounts.go) -------------------

def test_serviceaccount_mount_api_token(core, ns):
    """ServiceAccounts should mount an API token into pods (API part: the projected volume)."""
    sa = "mount-test"
    core.create_namespaced_service_account(ns, {"metadata": {"name": sa}})
    wait_default_sa(core, ns)
    p = j(core.create_namespaced_pod, ns, pod("pod-service-account-" + unique("x")[-8:], sa=sa))
    assert p["spec"]["serviceAccountName"] == sa
    name = token_mount(p)
    assert name and name.startswith("kube-api-access-")
    vol = [v for v in p["spec"]["volumes"] if v["name"] == name][0]
    sources = vol["projected"]["sources"]
    assert sources[0]["serviceAccountToken"]["path"] == "token"
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[1]["configMap"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    assert sources[2]["downwardAPI"]["items"][0]["path"] == "namespace"
    # The token the kubelet would project is one TokenRequest away, bound to the pod.
    tr = j(core.create_namespaced_service_account_token, sa, ns, {
        "spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                    "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]},
                 "expirationSeconds": 3607}})
    claims = jwt_claims(tr["status"]["token"])
    assert claims["sub"] == f"system:serviceaccount:{ns}:{sa}"
    assert claims["kubernetes.io"]["pod"]["uid"] == p["metadata"]["uid"]


def test_serviceaccount_automount_opt_out(core, ns):
    """ServiceAccounts should allow opting out of API token automount."""
    core.create_namespaced_service_account(ns, {"metadata": {"name": "mount"},
                                                "automountServiceAccountToken": True})
    core.create_namespaced_service_account(ns, {"metadata": {"name": "nomount"},
                                                "automountServiceAccountToken": False})
    wait_default_sa(core, ns)
    cases = [
        ("default", None, True), ("mount", None, True), ("nomount", None, False),
        ("default", True, True), ("mount", True, True), ("nomount", True, True),
        ("default", False, False), ("mount", False, False), ("nomount", False, False),
    ]
    for i, (sa, pod_setting, expect) in enumerate(cases):
        p = j(core.create_namespaced_pod, ns, pod(f"pod-{i}", sa=sa, automount=pod_setting))
        assert (token_mount(p) is not None) == expect, (sa, pod_setting, p["spec"])


def test_kube_root_ca_in_every_namespace(core, ns):
    """ServiceAccounts should guarantee kube-root-ca.crt exist in any namespace."""
    def ca(namespace):
        try:
            return core.read_namespaced_config_map("kube-root-ca.crt", namespace).data.get("ca.crt")
        except ApiException:
            return None
    original = eventually(lambda: ca("default"))
    assert "BEGIN CERTIFICATE" in original
    assert eventually(lambda: ca(ns)) == original
    core.delete_namespaced_config_map("kube-root-ca.crt", ns)
    assert eventually(lambda: ca(ns)) == original
    core.patch_namespaced_config_map("kube-root-ca.crt", ns, {"data": {"ca.crt": "changed"}})
    eventually(lambda: ca(ns) == original)


def jwt_claims(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def test_oidc_discovery(core, raw, ns):
    """ServiceAccountIssuerDiscovery should support OIDC discovery of service account issuer
    (API part: the documents, and a token whose issuer and key they describe)."""
    cfg = raw.json("GET", "/.well-known/openid-configuration")
    assert cfg["issuer"] and cfg["jwks_uri"].endswith("/openid/v1/jwks")
    assert cfg["response_types_supported"] == ["id_token"]
    assert cfg["subject_types_supported"] == ["public"]
    jwks = raw.json("GET", "/openid/v1/jwks")
    kids = {k["kid"] for k in jwks["keys"]}
    assert kids and all(k["use"] == "sig" for k in jwks["keys"])
    wait_default_sa(core, ns)
    tr = j(core.create_namespaced_service_account_token, "default", ns,
           {"spec": {"audiences": ["oidc-discovery-test"], "expirationSeconds": 3600}})
    token = tr["status"]["token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] in kids and header["alg"] in cfg["id_token_signing_alg_values_supported"]
    claims = jwt_claims(token)
    assert claims["iss"] == cfg["issuer"]
    assert claims["aud"] == ["oidc-discovery-test"]
    review = raw.json("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                      {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                       "spec": {"token": token, "audiences": ["oidc-discovery-test"]}},
                      expect=201)
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == f"system:serviceaccount:{ns}:default"


# --- [sig-api-machinery] ResourceQuota (apimachinery/resource_quota.go) ------

def quota_status(core, ns, name):
    s = core.read_namespaced_resource_quota(name, ns).status
    return (s.hard or {}, s.used or {}) if s else ({}, {})


def wait_used(core, ns, name, expected):
    def ok():
        hard, used = quota_status(core, ns, name)
        return all(used.get(k) == v for k, v in expected.items())
    eventually(ok)


def create_quota(core, ns, hard, name="test-quota"):
    core.create_namespaced_resource_quota(ns, {"metadata": {"name": name}, "spec": {"hard": hard}})
    eventually(lambda: quota_status(core, ns, name)[0] == hard)
    return name


def test_resourcequota_promptly_calculated(core, ns):
    """ResourceQuota should create a ResourceQuota and ensure its status is promptly calculated."""
    name = create_quota(core, ns, {"pods": "5", "services": "10", "configmaps": "10"})
    # kube-root-ca.crt is one config map already.
    wait_used(core, ns, name, {"pods": "0", "services": "0", "configmaps": "1"})


def test_resourcequota_life_of_configmap(core, ns):
    """ResourceQuota should create a ResourceQuota and capture the life of a configMap."""
    name = create_quota(core, ns, {"configmaps": "2"})
    wait_used(core, ns, name, {"configmaps": "1"})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "test-cm"}, "data": {"a": "b"}})
    wait_used(core, ns, name, {"configmaps": "2"})
    msg = forbidden(core.create_namespaced_config_map, ns, {"metadata": {"name": "too-many"}})
    assert "exceeded quota: test-quota, requested: configmaps=1, used: configmaps=2, " \
           "limited: configmaps=2" in msg
    core.delete_namespaced_config_map("test-cm", ns)
    wait_used(core, ns, name, {"configmaps": "1"})


def test_resourcequota_life_of_secret(core, ns):
    """ResourceQuota should create a ResourceQuota and capture the life of a secret."""
    name = create_quota(core, ns, {"secrets": "1"})
    wait_used(core, ns, name, {"secrets": "0"})
    core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "data": {"a": "Yg=="}})
    wait_used(core, ns, name, {"secrets": "1"})
    forbidden(core.create_namespaced_secret, ns, {"metadata": {"name": "s2"}})
    core.delete_namespaced_secret("s", ns)
    wait_used(core, ns, name, {"secrets": "0"})


def test_resourcequota_life_of_service(core, ns):
    """ResourceQuota should create a ResourceQuota and capture the life of a service."""
    name = create_quota(core, ns, {"services": "2", "services.nodeports": "1",
                                   "services.loadbalancers": "0"})
    core.create_namespaced_service(ns, {"metadata": {"name": "cip"},
                                        "spec": {"ports": [{"port": 80}]}})
    core.create_namespaced_service(ns, {"metadata": {"name": "np"},
                                        "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
    wait_used(core, ns, name, {"services": "2", "services.nodeports": "1",
                               "services.loadbalancers": "0"})
    forbidden(core.create_namespaced_service, ns, {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "ports": [{"port": 80}]}})
    core.delete_namespaced_service("cip", ns)
    core.delete_namespaced_service("np", ns)
    wait_used(core, ns, name, {"services": "0", "services.nodeports": "0"})


def test_resourcequota_life_of_replication_controller(core, ns):
    """ResourceQuota should create a ResourceQuota and capture the life of a replication
    controller."""
    name = create_quota(core, ns, {"replicationcontrollers": "1"})
    rc = {"metadata": {"name": "test-rc"}, "spec": {"replicas": 0, "selector": {"a": "b"},
          "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod("x")["spec"]}}}
    core.create_namespaced_replication_controller(ns, rc)
    wait_used(core, ns, name, {"replicationcontrollers": "1"})
    core.delete_namespaced_replication_controller("test-rc", ns)
    wait_used(core, ns, name, {"replicationcontrollers": "0"})


def test_resourcequota_life_of_replica_set(apps, core, ns):
    """ResourceQuota should create a ResourceQuota and capture the life of a replica set."""
    name = create_quota(core, ns, {"count/replicasets.apps": "1"})
    rs = {"metadata": {"name": "test-rs"}, "spec": {"replicas": 0,
          "selector": {"matchLabels": {"a": "b"}},
          "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod("x")["spec"]}}}
    apps.create_namespaced_replica_set(ns, rs)
    wait_used(core, ns, name, {"count/replicasets.apps": "1"})
    apps.delete_namespaced_replica_set("test-rs", ns)
    wait_used(core, ns, name, {"count/replicasets.apps": "0"})


def test_resourcequota_life_of_pod(core, ns):
    """ResourceQuota should create a ResourceQuota and capture the life of a pod."""
    wait_default_sa(core, ns)
    name = create_quota(core, ns, {"pods": "2", "requests.cpu": "1", "requests.memory": "500Mi",
                                   "limits.cpu": "2", "limits.memory": "1Gi"})
    requests = {"cpu": "500m", "memory": "252Mi"}
    core.create_namespaced_pod(ns, pod("test-pod", resources={"requests": requests,
                                                              "limits": requests}))
    wait_used(core, ns, name, {"pods": "1", "requests.cpu": "500m", "requests.memory": "252Mi"})
    msg = forbidden(core.create_namespaced_pod, ns, pod("fat-pod", resources={
        "requests": {"cpu": "600m", "memory": "100Mi"}, "limits": {"cpu": "600m",
                                                                   "memory": "100Mi"}}))
    assert "exceeded quota: test-quota, requested: requests.cpu=600m, used: requests.cpu=500m, " \
           "limited: requests.cpu=1" in msg
    msg = forbidden(core.create_namespaced_pod, ns, pod("bare-pod"))
    assert "failed quota: test-quota: must specify" in msg
    core.delete_namespaced_pod("test-pod", ns, grace_period_seconds=0)
    wait_used(core, ns, name, {"pods": "0", "requests.cpu": "0", "requests.memory": "0"})


def test_resourcequota_best_effort_scope(core, ns):
    """ResourceQuota should verify ResourceQuota with best effort scope."""
    wait_default_sa(core, ns)
    for q, scope in (("quota-besteffort", "BestEffort"), ("quota-not-besteffort", "NotBestEffort")):
        core.create_namespaced_resource_quota(ns, {"metadata": {"name": q}, "spec": {
            "hard": {"pods": "1"}, "scopes": [scope]}})
    wait_used(core, ns, "quota-besteffort", {"pods": "0"})
    core.create_namespaced_pod(ns, pod("best-effort"))
    wait_used(core, ns, "quota-besteffort", {"pods": "1"})
    wait_used(core, ns, "quota-not-besteffort", {"pods": "0"})
    r = {"requests": {"cpu": "100m"}, "limits": {"cpu": "100m"}}
    core.create_namespaced_pod(ns, pod("burstable", resources=r))
    wait_used(core, ns, "quota-not-besteffort", {"pods": "1"})
    wait_used(core, ns, "quota-besteffort", {"pods": "1"})
    forbidden(core.create_namespaced_pod, ns, pod("best-effort-2"))


def test_resourcequota_terminating_scopes(core, ns):
    """ResourceQuota should verify ResourceQuota with terminating scopes."""
    wait_default_sa(core, ns)
    for q, scope in (("quota-terminating", "Terminating"),
                     ("quota-not-terminating", "NotTerminating")):
        core.create_namespaced_resource_quota(ns, {"metadata": {"name": q}, "spec": {
            "hard": {"pods": "1"}, "scopes": [scope]}})
    wait_used(core, ns, "quota-terminating", {"pods": "0"})
    wait_used(core, ns, "quota-not-terminating", {"pods": "0"})
    core.create_namespaced_pod(ns, pod("long-running"))
    wait_used(core, ns, "quota-not-terminating", {"pods": "1"})
    wait_used(core, ns, "quota-terminating", {"pods": "0"})
    terminating = pod("terminating")
    terminating["spec"]["activeDeadlineSeconds"] = 3600
    core.create_namespaced_pod(ns, terminating)
    wait_used(core, ns, "quota-terminating", {"pods": "1"})
    forbidden(core.create_namespaced_pod, ns, pod("long-running-2"))
    core.delete_namespaced_pod("long-running", ns, grace_period_seconds=0)
    wait_used(core, ns, "quota-not-terminating", {"pods": "0"})


# --- [sig-scheduling] LimitRange (scheduling/limit_range.go) -----------------

def test_limitrange_defaults(core, ns):
    """LimitRange should create a LimitRange with defaults and ensure pod has those defaults
    applied."""
    wait_default_sa(core, ns)
    lr = {"metadata": {"name": "limit-range"}, "spec": {"limits": [{
        "type": "Container",
        "min": {"cpu": "100m", "memory": "100Mi"},
        "max": {"cpu": "500m", "memory": "500Mi"},
        "default": {"cpu": "500m", "memory": "500Mi"},
        "defaultRequest": {"cpu": "100m", "memory": "200Mi"},
        "maxLimitRequestRatio": {"cpu": "5"},
    }]}}
    core.create_namespaced_limit_range(ns, lr)
    got = core.read_namespaced_limit_range("limit-range", ns)
    assert got.spec.limits[0].default == {"cpu": "500m", "memory": "500Mi"}
    p = j(core.create_namespaced_pod, ns, pod("pod-no-resources"))
    res = p["spec"]["containers"][0]["resources"]
    assert res["requests"] == {"cpu": "100m", "memory": "200Mi"}
    assert res["limits"] == {"cpu": "500m", "memory": "500Mi"}
    p = j(core.create_namespaced_pod, ns, pod("pod-partial-resources", resources={
        "requests": {"cpu": "300m"}, "limits": {"memory": "300Mi"}}))
    res = p["spec"]["containers"][0]["resources"]
    assert res["requests"] == {"cpu": "300m", "memory": "300Mi"}, res
    assert res["limits"] == {"cpu": "500m", "memory": "300Mi"}, res
    msg = forbidden(core.create_namespaced_pod, ns, pod("pod-too-big", resources={
        "requests": {"cpu": "600m"}, "limits": {"cpu": "600m"}}))
    assert "maximum cpu usage per Container is 500m, but limit is 600m" in msg
    msg = forbidden(core.create_namespaced_pod, ns, pod("pod-too-small", resources={
        "requests": {"cpu": "50m"}, "limits": {"cpu": "50m"}}))
    assert "minimum cpu usage per Container is 100m, but request is 50m" in msg
    core.delete_namespaced_limit_range("limit-range", ns)
    p = j(core.create_namespaced_pod, ns, pod("pod-after-delete"))
    assert not p["spec"]["containers"][0].get("resources")
