"""Ports of [sig-node] conformance tests that need a node running pods (common/node/*.go):
containers' command and args, environment (downward API, ConfigMaps, Secrets, expansion),
termination messages, init containers, security contexts, pod lifecycle. Run against a
cluster with a node (``node_kubeconfig``); upstream's agnhost/mounttest images are replaced by
busybox doing the same checks."""
import time

import pytest
from kubernetes import client

from conftest import unique
from nodepods import (BUSYBOX, ENTRYPOINT_TESTER, create_pod, ensure_entrypoint_tester, exec_in,
                      logs, node_allocatable, output_of, phase_is, quantity_bytes, raw_pod,
                      run_pod, sh, terminated, wait_pod)


def printenv(**extra):
    """A container printing its environment (without a shell, which drops names like p-x)."""
    return {"name": "c", "image": BUSYBOX, "command": ["env"], **extra}


# --- Containers (common/node/containers.go) ---------------------------------------------------

@pytest.mark.parametrize("command,args,expected", [
    (None, None, "entrypoint default arguments"),
    (None, ["override", "arguments"], "entrypoint override arguments"),
    (["/bin/echo", "command"], None, "command"),
    (["/bin/echo", "command"], ["override", "arguments"], "command override arguments"),
])
def test_container_command_and_args(node_core, node_ns, command, args, expected):
    """[sig-node] Containers: image defaults, args override CMD, command overrides ENTRYPOINT
    (and drops the image's CMD), both override both."""
    ensure_entrypoint_tester()
    c = {"name": "c", "image": ENTRYPOINT_TESTER}
    if command:
        c["command"] = command
    if args:
        c["args"] = args
    assert output_of(node_core, node_ns, {"containers": [c]}).strip() == expected


# --- Downward API env (common/node/downwardapi.go) ----------------------------------------------

def field_env(name, path):
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def resource_env(name, resource, divisor=None):
    ref = {"resource": resource}
    if divisor:
        ref["divisor"] = divisor
    return {"name": name, "valueFrom": {"resourceFieldRef": ref}}


def test_downward_api_pod_fields_as_env(node_core, node_ns):
    """[sig-node] Downward API should provide pod name, namespace and IP address, host IP and
    pod UID as env vars."""
    env = [field_env("POD_NAME", "metadata.name"), field_env("POD_NAMESPACE", "metadata.namespace"),
           field_env("POD_IP", "status.podIP"), field_env("HOST_IP", "status.hostIP"),
           field_env("POD_UID", "metadata.uid")]
    name, pod = run_pod(node_core, node_ns, {"containers": [printenv(env=env)]})
    out = logs(node_core, node_ns, name)
    assert f"POD_NAME={name}" in out
    assert f"POD_NAMESPACE={node_ns}" in out
    assert f"POD_IP={pod['status']['podIP']}" in out
    assert f"HOST_IP={pod['status']['hostIP']}" in out
    assert f"POD_UID={pod['metadata']['uid']}" in out


def test_downward_api_resources_as_env(node_core, node_ns):
    """[sig-node] Downward API should provide container's limits.cpu/memory and
    requests.cpu/memory as env vars (cpu rounded up to whole cores by the default divisor)."""
    env = [resource_env("CPU_LIMIT", "limits.cpu"), resource_env("MEMORY_LIMIT", "limits.memory"),
           resource_env("CPU_REQUEST", "requests.cpu"),
           resource_env("MEMORY_REQUEST", "requests.memory"),
           resource_env("CPU_LIMIT_MILLI", "limits.cpu", "1m")]
    c = printenv(env=env, resources={"limits": {"cpu": "1250m", "memory": "64Mi"},
                                          "requests": {"cpu": "250m", "memory": "32Mi"}})
    out = output_of(node_core, node_ns, {"containers": [c]})
    for line in ["CPU_LIMIT=2", "MEMORY_LIMIT=67108864", "CPU_REQUEST=1",
                 "MEMORY_REQUEST=33554432", "CPU_LIMIT_MILLI=1250"]:
        assert line in out.splitlines(), (line, out)


def test_downward_api_default_limits_from_allocatable(node_core, node_ns):
    """[sig-node] Downward API should provide default limits.cpu/memory from node allocatable."""
    env = [resource_env("CPU_LIMIT", "limits.cpu"), resource_env("MEMORY_LIMIT", "limits.memory")]
    out = output_of(node_core, node_ns, {"containers": [printenv(env=env)]})
    alloc = node_allocatable(node_core)
    assert f"CPU_LIMIT={alloc['cpu']}" in out.splitlines(), (alloc, out)
    mem = out.split("MEMORY_LIMIT=")[1].split()[0]
    assert mem == str(quantity_bytes(alloc["memory"])), (alloc, out)


# --- ConfigMap / Secret env (common/node/configmap.go, secrets.go) ----------------------------

def test_configmap_env_var_and_env_from(node_core, node_ns):
    """[sig-node] ConfigMap should be consumable via environment variable and via the
    environment (envFrom with a prefix)."""
    cm = unique("configmap-test")
    node_core.create_namespaced_config_map(node_ns, {"metadata": {"name": cm},
                                                     "data": {"data-1": "value-1",
                                                              "data-2": "value-2"}})
    c = printenv(env=[{"name": "CONFIG_DATA_1", "valueFrom": {
        "configMapKeyRef": {"name": cm, "key": "data-1"}}}],
        envFrom=[{"prefix": "p-", "configMapRef": {"name": cm}}])
    out = output_of(node_core, node_ns, {"containers": [c]}).splitlines()
    assert "CONFIG_DATA_1=value-1" in out
    assert "p-data-1=value-1" in out and "p-data-2=value-2" in out


def test_secret_env_var_and_env_from(node_core, node_ns):
    """[sig-node] Secrets should be consumable from pods in env vars and via the environment."""
    s = unique("secret-test")
    node_core.create_namespaced_secret(node_ns, {"metadata": {"name": s},
                                                 "stringData": {"data-1": "value-1"}})
    c = printenv(env=[{"name": "SECRET_DATA", "valueFrom": {
        "secretKeyRef": {"name": s, "key": "data-1"}}}],
        envFrom=[{"prefix": "p-", "secretRef": {"name": s}}])
    out = output_of(node_core, node_ns, {"containers": [c]}).splitlines()
    assert "SECRET_DATA=value-1" in out
    assert "p-data-1=value-1" in out


# --- Variable expansion (common/node/expansion.go) ----------------------------------------------

def test_expansion_composes_env_vars(node_core, node_ns):
    """[sig-node] Variable Expansion should allow composing env vars into new env vars."""
    env = [{"name": "FOO", "value": "foo-value"}, {"name": "BAR", "value": "bar-value"},
           {"name": "FOOBAR", "value": "$(FOO);;$(BAR)"}]
    out = output_of(node_core, node_ns, {"containers": [printenv(env=env)]})
    assert "FOOBAR=foo-value;;bar-value" in out.splitlines()


def test_expansion_in_command(node_core, node_ns):
    """[sig-node] Variable Expansion should allow substituting values in a container's
    command."""
    c = {"name": "c", "image": BUSYBOX, "command": ["sh", "-c", "echo test-value=$(TEST_VAR)"],
         "env": [{"name": "TEST_VAR", "value": "test-value"}]}
    assert output_of(node_core, node_ns, {"containers": [c]}).strip() == "test-value=test-value"


def test_expansion_in_args(node_core, node_ns):
    """[sig-node] Variable Expansion should allow substituting values in a container's args."""
    c = {"name": "c", "image": BUSYBOX, "command": ["sh", "-c"],
         "args": ["echo test-value=$(TEST_VAR)"],
         "env": [{"name": "TEST_VAR", "value": "test-value"}]}
    assert output_of(node_core, node_ns, {"containers": [c]}).strip() == "test-value=test-value"


# --- Container runtime blackbox (common/node/runtime.go) -----------------------------------------

def termination(node_core, node_ns, script, policy=None, path=None, expect="Succeeded",
                security=None):
    c = sh("c", script)
    if policy:
        c["terminationMessagePolicy"] = policy
    if path:
        c["terminationMessagePath"] = path
    if security:
        c["securityContext"] = security
    _, pod = run_pod(node_core, node_ns, {"containers": [c]}, expect=expect)
    return terminated(pod)


def test_termination_message_from_log_on_error(node_core, node_ns):
    """[sig-node] Container Runtime should report termination message from log output if
    TerminationMessagePolicy FallbackToLogsOnError is set."""
    t = termination(node_core, node_ns, "echo DONE; exit 1", "FallbackToLogsOnError",
                    expect="Failed")
    assert t["message"].strip() == "DONE"
    assert t["exitCode"] == 1 and t["reason"] == "Error"


def test_termination_message_empty_on_success(node_core, node_ns):
    """[sig-node] Container Runtime should report termination message as empty when pod
    succeeds and TerminationMessagePolicy FallbackToLogsOnError is set."""
    t = termination(node_core, node_ns, "echo OK", "FallbackToLogsOnError")
    assert not t.get("message")
    assert t["reason"] == "Completed"


def test_termination_message_from_file_on_success(node_core, node_ns):
    """[sig-node] Container Runtime should report termination message from file when pod
    succeeds and TerminationMessagePolicy FallbackToLogsOnError is set."""
    t = termination(node_core, node_ns, "printf OK > /dev/termination-log",
                    "FallbackToLogsOnError")
    assert t["message"] == "OK"


def test_termination_message_non_root_custom_path(node_core, node_ns):
    """[sig-node] Container Runtime should report termination message if TerminationMessagePath
    is set as non-root user and at a non-default path."""
    t = termination(node_core, node_ns, "printf DONE > /dev/termination-custom-log",
                    path="/dev/termination-custom-log", security={"runAsUser": 1000})
    assert t["message"] == "DONE"


def test_exiting_container_status(node_core, node_ns):
    """[sig-node] Container Runtime when starting a container that exits should run with the
    expected status: restart counts, phase, Ready and state per restartPolicy."""
    # Always: restarted again and again, the pod stays Running, never Ready for long.
    always = create_pod(node_core, node_ns, {"restartPolicy": "Always",
                                             "containers": [sh("c", "exit 1")]})
    pod = wait_pod(node_core, node_ns, always,
                   lambda p: any(s.get("restartCount", 0) >= 2
                                 for s in p["status"].get("containerStatuses", [])),
                   timeout=90, what="2 restarts")
    assert pod["status"]["phase"] == "Running"
    # OnFailure: exits 1 → restarted; Never: exits 1 → Failed, no restart.
    on_failure = create_pod(node_core, node_ns, {"restartPolicy": "OnFailure",
                                                 "containers": [sh("c", "exit 1")]})
    pod = wait_pod(node_core, node_ns, on_failure,
                   lambda p: any(s.get("restartCount", 0) >= 1
                                 for s in p["status"].get("containerStatuses", [])),
                   what="a restart")
    assert pod["status"]["phase"] == "Pending" or pod["status"]["phase"] == "Running"
    _, pod = run_pod(node_core, node_ns, {"containers": [sh("c", "exit 1")]}, expect="Failed")
    s = pod["status"]["containerStatuses"][0]
    assert s["restartCount"] == 0 and s["ready"] is False
    assert s["state"]["terminated"]["exitCode"] == 1
    # OnFailure with success: Succeeded, state terminated Completed.
    _, pod = run_pod(node_core, node_ns, {"restartPolicy": "OnFailure",
                                          "containers": [sh("c", "exit 0")]})
    assert terminated(pod)["reason"] == "Completed"


# --- Kubelet (common/node/kubelet.go) ----------------------------------------------------------

def test_kubelet_prints_output_to_logs(node_core, node_ns):
    """[sig-node] Kubelet when scheduling a busybox command in a pod should print the output to
    logs."""
    out = output_of(node_core, node_ns, {"containers": [sh("c", "echo 'Hello World'")]})
    assert out == "Hello World\n"


def test_kubelet_always_failing_pod(node_core, node_ns):
    """[sig-node] Kubelet when scheduling a busybox command that always fails in a pod should
    have a terminated reason, and should be possible to delete."""
    name = create_pod(node_core, node_ns, {"restartPolicy": "Never",
                                           "containers": [sh("c", "/bin/false")]})
    pod = wait_pod(node_core, node_ns, name, phase_is("Failed"))
    t = terminated(pod)
    assert t["reason"] == "Error" and t["exitCode"] == 1
    node_core.delete_namespaced_pod(name, node_ns)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            node_core.read_namespaced_pod(name, node_ns)
        except client.ApiException as e:
            assert e.status == 404
            return
        time.sleep(0.3)
    raise AssertionError("pod not deleted")


def test_kubelet_read_only_root_filesystem(node_core, node_ns):
    """[sig-node] Kubelet when scheduling a read only busybox container should not write to
    root filesystem; [sig-node] Security Context with readOnlyRootFilesystem=false the rootfs
    is writable."""
    ro = sh("c", "echo test > /file; echo rc=$?", securityContext={"readOnlyRootFilesystem": True})
    out = output_of(node_core, node_ns, {"containers": [ro]})
    assert "Read-only file system" in out and "rc=1" in out, out
    rw = sh("c", "echo test > /file && cat /file",
            securityContext={"readOnlyRootFilesystem": False})
    assert output_of(node_core, node_ns, {"containers": [rw]}).strip() == "test"


def test_kubelet_host_aliases(node_core, node_ns):
    """[sig-node] Kubelet when scheduling an agnhost Pod with hostAliases should write entries
    to /etc/hosts."""
    out = output_of(node_core, node_ns, {
        "hostAliases": [{"ip": "123.45.67.89", "hostnames": ["foo", "bar"]}],
        "containers": [sh("c", "cat /etc/hosts")]})
    assert any(line.split() == ["123.45.67.89", "foo", "bar"] for line in out.splitlines()), out


def test_kubelet_managed_etc_hosts(node_core, node_ns):
    """[sig-node] KubeletManagedEtcHosts should test kubelet managed /etc/hosts file: managed
    for pods, not for hostNetwork pods, not when the container mounts its own /etc/hosts."""
    marker = "# Kubernetes-managed hosts file."
    out = output_of(node_core, node_ns, {"containers": [sh("c", "cat /etc/hosts")]})
    assert out.startswith(marker), out
    out = output_of(node_core, node_ns, {
        "volumes": [{"name": "h", "hostPath": {"path": "/etc/hosts", "type": "File"}}],
        "containers": [sh("c", "cat /etc/hosts",
                          volumeMounts=[{"name": "h", "mountPath": "/etc/hosts"}])]})
    assert marker not in out
    out = output_of(node_core, node_ns, {"hostNetwork": True,
                                         "containers": [sh("c", "cat /etc/hosts")]})
    assert marker not in out
    host_lines = [line for line in open("/etc/hosts").read().splitlines() if line.strip()]
    assert all(line in out.splitlines() for line in host_lines), out


# --- Init containers (common/node/init_container.go) -------------------------------------------

def test_init_containers_restart_never(node_core, node_ns):
    """[sig-node] InitContainer should invoke init containers on a RestartNever pod."""
    _, pod = run_pod(node_core, node_ns, {
        "initContainers": [sh("init1", "true"), sh("init2", "true")],
        "containers": [sh("run1", "true")]})
    inits = pod["status"]["initContainerStatuses"]
    assert [s["name"] for s in inits] == ["init1", "init2"]
    assert all(s["state"]["terminated"]["reason"] == "Completed" for s in inits)
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Initialized"] == "True"


def test_init_containers_restart_always(node_core, node_ns):
    """[sig-node] InitContainer should invoke init containers on a RestartAlways pod."""
    name = create_pod(node_core, node_ns, {
        "initContainers": [sh("init1", "true"), sh("init2", "true")],
        "containers": [sh("run1", "sleep 3600")]})
    pod = wait_pod(node_core, node_ns, name, phase_is("Running"))
    inits = pod["status"]["initContainerStatuses"]
    assert all(s["state"]["terminated"]["exitCode"] == 0 for s in inits)
    assert pod["status"]["containerStatuses"][0]["state"].get("running")


def test_init_container_failure_restart_never(node_core, node_ns):
    """[sig-node] InitContainer should not start app containers and fail the pod if init
    containers fail on a RestartNever pod."""
    name, pod = run_pod(node_core, node_ns, {
        "initContainers": [sh("init1", "false"), sh("init2", "true")],
        "containers": [sh("run1", "true")]}, expect="Failed")
    inits = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
    assert inits["init1"]["state"]["terminated"]["exitCode"] == 1
    assert "terminated" not in inits["init2"]["state"]
    assert "terminated" not in pod["status"]["containerStatuses"][0]["state"]
    initialized = {c["type"]: c for c in pod["status"]["conditions"]}["Initialized"]
    assert initialized["status"] == "False"
    assert initialized["reason"] == "ContainersNotInitialized"


def test_init_container_failure_restart_always(node_core, node_ns):
    """[sig-node] InitContainer should not start app containers if init containers fail on a
    RestartAlways pod: the failing init container is restarted, the app never starts."""
    name = create_pod(node_core, node_ns, {
        "initContainers": [sh("init1", "false"), sh("init2", "true")],
        "containers": [sh("run1", "sleep 3600")]})
    pod = wait_pod(node_core, node_ns, name,
                   lambda p: any(s["name"] == "init1" and s.get("restartCount", 0) >= 2
                                 for s in p["status"].get("initContainerStatuses", [])),
                   timeout=90, what="init1 restarted twice")
    assert pod["status"]["phase"] == "Pending"
    assert "running" not in pod["status"]["containerStatuses"][0]["state"]
    assert "terminated" not in [k for s in pod["status"]["initContainerStatuses"]
                                if s["name"] == "init2" for k in s["state"]]


# --- Security context (common/node/security_context.go) -----------------------------------------

def test_security_context_run_as_user_65534(node_core, node_ns):
    """[sig-node] Security Context When creating a container with runAsUser should run the
    container with uid 65534."""
    out = output_of(node_core, node_ns, {"containers": [
        sh("c", "id -u", securityContext={"runAsUser": 65534})]})
    assert out.strip() == "65534"


def test_security_context_run_as_user_and_group(node_core, node_ns):
    """[sig-node] Security Context should support container.SecurityContext.RunAsUser And
    RunAsGroup, and pod.Spec.SecurityContext.RunAsUser And RunAsGroup."""
    out = output_of(node_core, node_ns, {"containers": [
        sh("c", "id -u; id -g", securityContext={"runAsUser": 1001, "runAsGroup": 2002})]})
    assert out.split() == ["1001", "2002"]
    out = output_of(node_core, node_ns, {"securityContext": {"runAsUser": 1003,
                                                              "runAsGroup": 2004},
                                         "containers": [sh("c", "id -u; id -g")]})
    assert out.split() == ["1003", "2004"]


def test_security_context_unprivileged(node_core, node_ns):
    """[sig-node] Security Context When creating a pod with privileged should run the container
    as unprivileged when false: creating a network link is not permitted."""
    out = output_of(node_core, node_ns, {"containers": [
        sh("c", "ip link add dummy0 type dummy; echo rc=$?",
           securityContext={"privileged": False})]})
    assert "rc=0" not in out and "not permitted" in out.lower(), out


def test_security_context_no_privilege_escalation(node_core, node_ns):
    """[sig-node] Security Context when creating containers with AllowPrivilegeEscalation
    should not allow privilege escalation when false (no_new_privs is set)."""
    out = output_of(node_core, node_ns, {"containers": [
        sh("c", "grep NoNewPrivs /proc/self/status",
           securityContext={"allowPrivilegeEscalation": False, "runAsUser": 1000})]})
    assert out.split() == ["NoNewPrivs:", "1"], out


# --- Pods (common/node/pods.go) -----------------------------------------------------------------

def test_pods_get_a_host_ip(node_core, node_ns):
    """[sig-node] Pods should get a host IP."""
    name = create_pod(node_core, node_ns, {"containers": [sh("c", "sleep 3600")]})
    pod = wait_pod(node_core, node_ns, name, phase_is("Running"))
    node = node_core.list_node().items[0]
    internal = [a.address for a in node.status.addresses if a.type == "InternalIP"]
    assert pod["status"]["hostIP"] in internal
    assert pod["status"]["hostIPs"][0]["ip"] == pod["status"]["hostIP"]


def test_pods_active_deadline_can_be_updated(node_core, node_ns):
    """[sig-node] Pods should allow activeDeadlineSeconds to be updated: lowering it makes the
    running pod fail with DeadlineExceeded."""
    name = create_pod(node_core, node_ns, {"containers": [sh("c", "sleep 3600")]})
    wait_pod(node_core, node_ns, name, phase_is("Running"))
    node_core.patch_namespaced_pod(name, node_ns, {"spec": {"activeDeadlineSeconds": 5}})
    pod = wait_pod(node_core, node_ns, name, phase_is("Failed"), timeout=60)
    assert pod["status"]["reason"] == "DeadlineExceeded"


def test_pods_env_vars_for_services(node_core, node_ns):
    """[sig-node] Pods should contain environment variables for services created before."""
    node_core.create_namespaced_service(node_ns, {
        "metadata": {"name": "fooservice"},
        "spec": {"selector": {"name": "server"},
                 "ports": [{"port": 8765, "targetPort": 8080, "protocol": "TCP"}]}})
    ip = node_core.read_namespaced_service("fooservice", node_ns).spec.cluster_ip
    out = output_of(node_core, node_ns, {"containers": [printenv()]}).splitlines()
    for line in [f"FOOSERVICE_SERVICE_HOST={ip}", "FOOSERVICE_SERVICE_PORT=8765",
                 f"FOOSERVICE_PORT=tcp://{ip}:8765",
                 f"FOOSERVICE_PORT_8765_TCP=tcp://{ip}:8765",
                 "FOOSERVICE_PORT_8765_TCP_PROTO=tcp", "FOOSERVICE_PORT_8765_TCP_PORT=8765",
                 f"FOOSERVICE_PORT_8765_TCP_ADDR={ip}"]:
        assert line in out, (line, out)


def test_pods_remote_command_and_logs(node_core, node_ns):
    """[sig-node] Pods should support remote command execution over websockets and retrieving
    logs from the container over websockets."""
    name = create_pod(node_core, node_ns, {"containers": [
        sh("main", "echo container is alive; sleep 3600")]})
    wait_pod(node_core, node_ns, name, phase_is("Running"))
    assert exec_in(node_core, node_ns, name, ["cat", "/etc/resolv.conf"]).count("nameserver") >= 1
    assert exec_in(node_core, node_ns, name, ["echo", "remote execution test"]) == \
        "remote execution test\n"
    deadline = time.time() + 10
    while logs(node_core, node_ns, name) != "container is alive\n" and time.time() < deadline:
        time.sleep(0.2)
    assert logs(node_core, node_ns, name) == "container is alive\n"


def test_pods_submitted_updated_and_removed(node_core, node_ns):
    """[sig-node] Pods should be submitted and removed, and should be updated: a watch sees the
    pod added, its label update and its graceful deletion."""
    name = create_pod(node_core, node_ns, {"containers": [sh("c", "sleep 3600")]},
                      labels={"time": "1"})
    wait_pod(node_core, node_ns, name, phase_is("Running"))
    pods = node_core.list_namespaced_pod(node_ns, label_selector="time=1").items
    assert [p.metadata.name for p in pods] == [name]
    node_core.patch_namespaced_pod(name, node_ns, {"metadata": {"labels": {"time": "2"}}})
    assert node_core.list_namespaced_pod(node_ns, label_selector="time=1").items == []
    assert raw_pod(node_core, node_ns, name)["metadata"]["labels"]["time"] == "2"
    node_core.delete_namespaced_pod(name, node_ns, grace_period_seconds=30)
    # The kubelet stops the container (sleep ignores nothing: SIGTERM ends it) and the pod goes.
    deadline = time.time() + 40
    while time.time() < deadline:
        if node_core.list_namespaced_pod(node_ns, label_selector="time=2").items == []:
            return
        time.sleep(0.3)
    raise AssertionError("pod not removed after graceful deletion")
