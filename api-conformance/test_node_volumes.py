"""Ports of [sig-storage] volume conformance tests that need a node running pods
(common/storage/*.go): ConfigMap, Secret, projected and downward API volumes (content, modes,
mappings, non-root readers, several mounts, live updates) and emptyDir modes. Upstream's mounttest
image is replaced by busybox printing the same facts (content, mode, owner)."""
import base64
import time

import pytest
from kubernetes import client

from conftest import unique
from nodepods import (create_pod, exec_in, logs, node_allocatable, phase_is, quantity_bytes,
                      run_pod, sh, wait_pod)


def report(paths):
    """A script printing, for each path, its content and mode (following the atomic writer's
    symlinks, as upstream's mounttest does)."""
    return "; ".join(f'echo "content of {p}: $(cat {p})"; stat -L -c "mode of {p}: %a" {p}'
                     for p in paths)


def wrap(kind, source, projected, default_mode=None):
    """A pod volume of `kind` (configMap/secret/downwardAPI) from `source`, or the same inside a
    projected volume."""
    if projected:
        vol = {"projected": {"sources": [{kind: source}]}}
        if default_mode is not None:
            vol["projected"]["defaultMode"] = default_mode
        return vol
    src = dict(source)
    if default_mode is not None:
        src["defaultMode"] = default_mode
    return {kind: src}


def make_object(core, ns, kind, name, data):
    if kind == "configMap":
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": data})
    else:
        core.create_namespaced_secret(ns, {"metadata": {"name": name}, "stringData": data})


def plain_volume(kind, name, projected, items=None, default_mode=None):
    """configMap/secret volume (secret volumes name their object `secretName`)."""
    if projected:
        src = {"name": name}
        if items:
            src["items"] = items
        return wrap(kind, src, True, default_mode)
    src = {"name": name} if kind == "configMap" else {"secretName": name}
    if items:
        src["items"] = items
    if default_mode is not None:
        src["defaultMode"] = default_mode
    return {kind: src}


@pytest.mark.parametrize("kind,projected", [
    ("configMap", False), ("secret", False), ("configMap", True), ("secret", True)])
def test_object_volumes(node_core, node_ns, kind, projected):
    """[sig-storage] ConfigMap / Secrets / Projected configMap / Projected secret: consumable
    from pods in volume, with defaultMode set, with mappings, with mappings and item mode set,
    as non-root (with and without mappings), and in multiple volumes in the same pod."""
    name = unique("vol-test")
    make_object(node_core, node_ns, kind, name, {"data-1": "value-1", "data-2": "value-2",
                                                 "data-3": "value-3"})
    volumes = [
        {"name": "plain", **plain_volume(kind, name, projected)},
        {"name": "mode", **plain_volume(kind, name, projected, default_mode=0o400)},
        {"name": "mapped", **plain_volume(kind, name, projected,
                                          items=[{"key": "data-2", "path": "path/to/data-2"}])},
        {"name": "item-mode", **plain_volume(kind, name, projected,
                                             items=[{"key": "data-2", "path": "path/to/data-2",
                                                     "mode": 0o400}])},
        {"name": "again", **plain_volume(kind, name, projected)},
    ]
    mounts = [{"name": v["name"], "mountPath": f"/etc/{v['name']}", "readOnly": True}
              for v in volumes]
    root = sh("root", report(["/etc/plain/data-1", "/etc/mode/data-1",
                              "/etc/mapped/path/to/data-2", "/etc/item-mode/path/to/data-2",
                              "/etc/again/data-1"]) + "; ls /etc/mapped",
              volumeMounts=mounts)
    nonroot = sh("nonroot", report(["/etc/plain/data-1", "/etc/mapped/path/to/data-2"]) +
                 "; id -u", volumeMounts=mounts, securityContext={"runAsUser": 1000})
    name_, pod = run_pod(node_core, node_ns, {"volumes": volumes, "containers": [root, nonroot]})
    out = logs(node_core, node_ns, name_, "root").splitlines()
    for line in ["content of /etc/plain/data-1: value-1", "mode of /etc/plain/data-1: 644",
                 "content of /etc/mode/data-1: value-1", "mode of /etc/mode/data-1: 400",
                 "content of /etc/mapped/path/to/data-2: value-2",
                 "mode of /etc/mapped/path/to/data-2: 644",
                 "content of /etc/item-mode/path/to/data-2: value-2",
                 "mode of /etc/item-mode/path/to/data-2: 400",
                 "content of /etc/again/data-1: value-1"]:
        assert line in out, (line, out)
    # A mapped volume holds only the mapped keys.
    assert "path" in out and "data-1" not in out[-1:], out
    out = logs(node_core, node_ns, name_, "nonroot").splitlines()
    assert "content of /etc/plain/data-1: value-1" in out, out
    assert "content of /etc/mapped/path/to/data-2: value-2" in out, out
    assert out[-1] == "1000"


@pytest.mark.parametrize("projected", [False, True])
def test_secret_volume_non_root_with_fs_group(node_core, node_ns, projected):
    """[sig-storage] Secrets / Projected secret should be consumable from pods in volume as
    non-root with defaultMode and fsGroup set: the files belong to the fsGroup, mode 0440."""
    name = unique("secret-test")
    make_object(node_core, node_ns, "secret", name, {"data-1": "value-1"})
    vol = {"name": "s", **plain_volume("secret", name, projected, default_mode=0o440)}
    c = sh("c", report(["/etc/s/data-1"]) + "; stat -L -c 'group of /etc/s/data-1: %g' "
           "/etc/s/data-1; id -u", volumeMounts=[{"name": "s", "mountPath": "/etc/s"}])
    name_, _ = run_pod(node_core, node_ns, {
        "securityContext": {"runAsUser": 1000, "fsGroup": 1001},
        "volumes": [vol], "containers": [c]})
    out = logs(node_core, node_ns, name_).splitlines()
    for line in ["content of /etc/s/data-1: value-1", "mode of /etc/s/data-1: 440",
                 "group of /etc/s/data-1: 1001", "1000"]:
        assert line in out, (line, out)


def test_configmap_binary_data(node_core, node_ns):
    """[sig-storage] ConfigMap binary data should be reflected in volume."""
    name = unique("cm-binary")
    blob = bytes([0xDE, 0xCA, 0xFE, 0xBA, 0xBE, 0x00, 0xFF])
    node_core.create_namespaced_config_map(node_ns, {
        "metadata": {"name": name}, "data": {"data-1": "value-1"},
        "binaryData": {"dump.bin": base64.b64encode(blob).decode()}})
    c = sh("c", "cat /etc/cm/data-1; echo; od -An -tx1 /etc/cm/dump.bin",
           volumeMounts=[{"name": "cm", "mountPath": "/etc/cm"}])
    name_, _ = run_pod(node_core, node_ns, {"volumes": [{"name": "cm", "configMap": {"name": name}}],
                                            "containers": [c]})
    out = logs(node_core, node_ns, name_).split("\n")
    assert out[0] == "value-1"
    assert out[1].split() == ["de", "ca", "fe", "ba", "be", "00", "ff"], out


def test_secret_same_name_other_namespace(node_core, node_ns):
    """[sig-storage] Secrets should be able to mount in a volume regardless of a different
    secret existing with same name in different namespace."""
    other = unique("other")
    node_core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    try:
        name = unique("secret-test")
        make_object(node_core, other, "secret", name, {"data-1": "other-value"})
        make_object(node_core, node_ns, "secret", name, {"data-1": "value-1"})
        c = sh("c", "cat /etc/s/data-1", volumeMounts=[{"name": "s", "mountPath": "/etc/s"}])
        name_, _ = run_pod(node_core, node_ns, {
            "volumes": [{"name": "s", "secret": {"secretName": name}}], "containers": [c]})
        assert logs(node_core, node_ns, name_) == "value-1"
    finally:
        node_core.delete_namespace(other)


def read_in(core, ns, pod, path):
    return exec_in(core, ns, pod, ["sh", "-c", f"cat {path} 2>/dev/null || echo MISSING"])


def wait_file(core, ns, pod, path, expected, timeout=90):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = read_in(core, ns, pod, path).strip()
        if got == expected:
            return
        time.sleep(1)
    raise AssertionError(f"{path}: {got!r}, expected {expected!r}")


@pytest.mark.parametrize("kind,projected", [
    ("configMap", False), ("configMap", True), ("secret", False), ("secret", True)])
def test_object_volume_updates(node_core, node_ns, kind, projected):
    """[sig-storage] ConfigMap / Projected configMap updates should be reflected in volume;
    ConfigMap / Projected configMap / Secrets / Projected secret optional updates should be
    reflected in volume: an updated object's file changes, a deleted optional object's file
    goes, a created optional object's file appears."""
    upd, dele, cre = unique("upd"), unique("del"), unique("create")
    make_object(node_core, node_ns, kind, upd, {"data-1": "value-1"})
    make_object(node_core, node_ns, kind, dele, {"data-1": "value-1"})

    def vol(vname, obj):
        v = plain_volume(kind, obj, projected)
        src = v["projected"]["sources"][0][kind] if projected else v[kind]
        src["optional"] = True
        return {"name": vname, **v}
    volumes = [vol("upd", upd), vol("del", dele), vol("cre", cre)]
    mounts = [{"name": v["name"], "mountPath": f"/etc/{v['name']}"} for v in volumes]
    pod = create_pod(node_core, node_ns, {"volumes": volumes, "containers": [
        sh("c", "sleep 3600", volumeMounts=mounts)]})
    wait_pod(node_core, node_ns, pod, phase_is("Running"))
    assert read_in(node_core, node_ns, pod, "/etc/upd/data-1").strip() == "value-1"
    assert read_in(node_core, node_ns, pod, "/etc/cre/data-1").strip() == "MISSING"
    if kind == "configMap":
        node_core.patch_namespaced_config_map(upd, node_ns, {"data": {"data-1": "value-2"}})
        node_core.delete_namespaced_config_map(dele, node_ns)
    else:
        node_core.patch_namespaced_secret(upd, node_ns, {"stringData": {"data-1": "value-2"}})
        node_core.delete_namespaced_secret(dele, node_ns)
    make_object(node_core, node_ns, kind, cre, {"data-1": "value-3"})
    wait_file(node_core, node_ns, pod, "/etc/upd/data-1", "value-2")
    wait_file(node_core, node_ns, pod, "/etc/cre/data-1", "value-3")
    wait_file(node_core, node_ns, pod, "/etc/del/data-1", "MISSING")


# --- Downward API volumes (common/storage/downwardapi_volume.go, projected_downwardapi.go) ------

def downward_item(path, field=None, resource=None, divisor=None, container=None, mode=None):
    item = {"path": path}
    if field:
        item["fieldRef"] = {"fieldPath": field}
    if resource:
        ref = {"containerName": container, "resource": resource}
        if divisor:
            ref["divisor"] = divisor
        item["resourceFieldRef"] = ref
    if mode is not None:
        item["mode"] = mode
    return item


@pytest.mark.parametrize("projected", [False, True])
def test_downward_api_volume(node_core, node_ns, projected):
    """[sig-storage] Downward API volume / Projected downwardAPI: podname only, container's
    cpu/memory limit and request, node allocatable as the default cpu/memory limit, DefaultMode
    on files, mode on item file."""
    items = [downward_item("podname", field="metadata.name"),
             downward_item("cpu_limit", resource="limits.cpu", divisor="1m", container="limited"),
             downward_item("cpu_request", resource="requests.cpu", divisor="1m",
                           container="limited"),
             downward_item("memory_limit", resource="limits.memory", container="limited"),
             downward_item("memory_request", resource="requests.memory", container="limited"),
             downward_item("default_cpu_limit", resource="limits.cpu", container="unlimited"),
             downward_item("default_memory_limit", resource="limits.memory",
                           container="unlimited"),
             downward_item("podname_mode", field="metadata.name", mode=0o400)]
    volumes = [{"name": "podinfo", **wrap("downwardAPI", {"items": items}, projected)},
               {"name": "moded", **wrap("downwardAPI", {"items": [
                   downward_item("podname", field="metadata.name")]}, projected, 0o400)}]
    mounts = [{"name": "podinfo", "mountPath": "/etc/podinfo"},
              {"name": "moded", "mountPath": "/etc/moded"}]
    files = ["/etc/podinfo/" + i["path"] for i in items] + ["/etc/moded/podname"]
    limited = sh("limited", report(files), volumeMounts=mounts, resources={
        "limits": {"cpu": "1250m", "memory": "64Mi"},
        "requests": {"cpu": "250m", "memory": "32Mi"}})
    unlimited = sh("unlimited", "true")
    name, _ = run_pod(node_core, node_ns, {"volumes": volumes,
                                           "containers": [limited, unlimited]})
    out = logs(node_core, node_ns, name, "limited").splitlines()
    alloc = node_allocatable(node_core)
    cpu_cores = alloc["cpu"]
    for line in [f"content of /etc/podinfo/podname: {name}",
                 "mode of /etc/podinfo/podname: 644",
                 "content of /etc/podinfo/cpu_limit: 1250",
                 "content of /etc/podinfo/cpu_request: 250",
                 "content of /etc/podinfo/memory_limit: 67108864",
                 "content of /etc/podinfo/memory_request: 33554432",
                 f"content of /etc/podinfo/default_cpu_limit: {cpu_cores}",
                 f"content of /etc/podinfo/default_memory_limit: "
                 f"{quantity_bytes(alloc['memory'])}",
                 "mode of /etc/podinfo/podname_mode: 400",
                 f"content of /etc/moded/podname: {name}",
                 "mode of /etc/moded/podname: 400"]:
        assert line in out, (line, out)


@pytest.mark.parametrize("projected", [False, True])
def test_downward_api_volume_updates(node_core, node_ns, projected):
    """[sig-storage] Downward API volume / Projected downwardAPI should update labels and
    annotations on modification."""
    items = [downward_item("labels", field="metadata.labels"),
             downward_item("annotations", field="metadata.annotations")]
    pod = create_pod(node_core, node_ns, {
        "volumes": [{"name": "podinfo", **wrap("downwardAPI", {"items": items}, projected)}],
        "containers": [sh("c", "sleep 3600",
                          volumeMounts=[{"name": "podinfo", "mountPath": "/etc/podinfo"}])]},
        labels={"key1": "value1"}, annotations={"builder": "bar"})
    wait_pod(node_core, node_ns, pod, phase_is("Running"))
    assert 'key1="value1"' in read_in(node_core, node_ns, pod, "/etc/podinfo/labels")
    assert 'builder="bar"' in read_in(node_core, node_ns, pod, "/etc/podinfo/annotations")
    node_core.patch_namespaced_pod(pod, node_ns, {"metadata": {
        "labels": {"key3": "value3"}, "annotations": {"builder": "foo"}}})
    deadline = time.time() + 90
    while time.time() < deadline:
        labels = read_in(node_core, node_ns, pod, "/etc/podinfo/labels")
        annotations = read_in(node_core, node_ns, pod, "/etc/podinfo/annotations")
        if 'key3="value3"' in labels and 'builder="foo"' in annotations:
            return
        time.sleep(1)
    raise AssertionError(f"not updated: {labels!r} {annotations!r}")


def test_projected_combined(node_core, node_ns):
    """[sig-storage] Projected combined should project all components that make up the
    projection API: a ConfigMap, a Secret and downward API files in one volume."""
    cm, secret = unique("cm"), unique("secret")
    make_object(node_core, node_ns, "configMap", cm, {"configmap-data": "configmap-value-1"})
    make_object(node_core, node_ns, "secret", secret, {"secret-data": "secret-value-1"})
    vol = {"name": "all", "projected": {"sources": [
        {"downwardAPI": {"items": [downward_item("podname", field="metadata.name")]}},
        {"secret": {"name": secret, "items": [{"key": "secret-data", "path": "secret-data"}]}},
        {"configMap": {"name": cm, "items": [{"key": "configmap-data",
                                              "path": "configmap-data"}]}}]}}
    c = sh("c", "cat /all/podname /all/secret-data /all/configmap-data",
           volumeMounts=[{"name": "all", "mountPath": "/all"}])
    name, _ = run_pod(node_core, node_ns, {"volumes": [vol], "containers": [c]})
    assert logs(node_core, node_ns, name) == f"{name}secret-value-1configmap-value-1"


# --- EmptyDir (common/storage/empty_dir.go) -----------------------------------------------------

EMPTYDIR_CASES = [(user, mode, medium) for user in ("root", "non-root")
                  for mode in ("0644", "0666", "0777") for medium in ("default", "tmpfs")]


def test_emptydir_modes(node_core, node_ns):
    """[sig-storage] EmptyDir volumes should support (root|non-root, 0644|0666|0777,
    default|tmpfs); the volume on the default medium and on tmpfs has mode 0777; a tmpfs volume
    is a tmpfs mount."""
    volumes = [{"name": "disk", "emptyDir": {}}, {"name": "mem", "emptyDir": {"medium": "Memory"}}]
    containers = []
    for i, (user, mode, medium) in enumerate(EMPTYDIR_CASES):
        vol = "disk" if medium == "default" else "mem"
        f = f"/test-volume/file-{i}"
        script = (f"umask 0; echo mount-tester new file > {f}; chmod {mode} {f}; "
                  f"stat -c '%a %u' {f}; cat {f}; stat -c '%a' /test-volume; "
                  "grep ' /test-volume ' /proc/mounts | cut -d' ' -f3")
        c = sh(f"c{i}", script, volumeMounts=[{"name": vol, "mountPath": "/test-volume"}])
        if user == "non-root":
            c["securityContext"] = {"runAsUser": 1001}
        containers.append(c)
    name, _ = run_pod(node_core, node_ns, {"volumes": volumes, "initContainers": containers[:-1],
                                           "containers": containers[-1:]})
    for i, (user, mode, medium) in enumerate(EMPTYDIR_CASES):
        out = logs(node_core, node_ns, name, f"c{i}").splitlines()
        uid = "0" if user == "root" else "1001"
        assert out[0] == f"{mode.lstrip('0')} {uid}", (user, mode, medium, out)
        assert out[1] == "mount-tester new file", out
        # Permission bits as mounttest reports them (Go's Mode().Perm(); tmpfs adds sticky).
        assert out[2][-3:] == "777", (medium, out)
        if medium == "tmpfs":
            assert out[3] == "tmpfs", out


def test_emptydir_shared_between_containers(node_core, node_ns):
    """[sig-storage] EmptyDir volumes pod should support shared volumes between containers."""
    pod = create_pod(node_core, node_ns, {
        "volumes": [{"name": "shared", "emptyDir": {}}],
        "containers": [
            sh("writer", "echo Hello from the busy-box sub-container > /usr/share/volumeshare/"
               "shareddata.txt; sleep 3600",
               volumeMounts=[{"name": "shared", "mountPath": "/usr/share/volumeshare"}]),
            sh("reader", "sleep 3600",
               volumeMounts=[{"name": "shared", "mountPath": "/usr/share/volumeshare"}])]})
    wait_pod(node_core, node_ns, pod, phase_is("Running"))
    deadline = time.time() + 20
    out = ""
    while time.time() < deadline:
        out = exec_in(node_core, node_ns, pod, ["cat", "/usr/share/volumeshare/shareddata.txt"],
                      container="reader")
        if "Hello from the busy-box sub-container" in out:
            return
        time.sleep(0.5)
    raise AssertionError(out)
