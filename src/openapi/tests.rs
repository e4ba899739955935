//! Tests of the served documents.

use super::*;
use crate::api::builtin::builtin_resources;

fn service() -> OpenApi {
    OpenApi::new(builtin_resources())
}

fn parse(doc: &Document) -> Value {
    serde_json::from_slice(&doc.body).expect("document is JSON")
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn new_builds_nothing() {
    let api = service();
    let state = api.state.read().clone();
    assert!(state.entries.iter().all(|e| e.doc.get().is_none()));
    assert!(state.index.get().is_none());
}

#[test]
fn index_lists_group_versions_with_hashes() {
    let api = service();
    let index = api.index();
    let paths = index["paths"].as_object().expect("paths");
    for key in [
        "api",
        "api/v1",
        "apis",
        "apis/apps",
        "apis/apps/v1",
        "apis/batch/v1",
        "version",
    ] {
        assert!(paths.contains_key(key), "{key}");
    }
    let url = paths["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("url");
    let doc = api.document("apis/apps/v1").expect("doc");
    assert_eq!(url, format!("/openapi/v3/apis/apps/v1?hash={}", doc.hash));
    assert_eq!(doc.hash.len(), 128);
    assert!(doc
        .hash
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    assert!(api.document("apis/nope/v1").is_none());
    assert!(api.document("/api/v1/").is_some());
}

#[test]
fn every_ref_resolves_in_its_document() {
    let api = service();
    let index = api.index();
    for key in index["paths"].as_object().expect("paths").keys() {
        let doc = parse(&api.document(key).expect("doc"));
        assert_eq!(doc["openapi"], "3.0.0");
        assert_eq!(doc["info"]["title"], "Kubernetes");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty(), "{key}");
        for r in refs {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{key}: foreign ref {r}"));
            assert!(schemas.contains_key(name), "{key}: dangling {r}");
        }
    }
}

#[test]
fn apps_v1_has_deployment_patch_with_gvk_and_field_validation() {
    let api = service();
    let doc = parse(&api.document("apis/apps/v1").expect("doc"));
    let item = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    let patch = &item["patch"];
    assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    let params: Vec<&str> = patch["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(params.contains(&"fieldValidation"));
    assert!(params.contains(&"force"));
    let content = patch["requestBody"]["content"]
        .as_object()
        .expect("content");
    for t in [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ] {
        assert!(content.contains_key(t), "{t}");
    }
    assert_eq!(item["get"]["operationId"], "readAppsV1NamespacedDeployment");
    assert_eq!(
        item["put"]["operationId"],
        "replaceAppsV1NamespacedDeployment"
    );
    assert_eq!(
        item["delete"]["operationId"],
        "deleteAppsV1NamespacedDeployment"
    );
    let coll = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"];
    assert_eq!(coll["get"]["operationId"], "listAppsV1NamespacedDeployment");
    assert_eq!(coll["get"]["x-kubernetes-action"], "list");
    assert_eq!(
        coll["post"]["operationId"],
        "createAppsV1NamespacedDeployment"
    );
    assert_eq!(
        coll["delete"]["operationId"],
        "deleteAppsV1CollectionNamespacedDeployment"
    );
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/apis/apps/v1/",
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/watch/deployments",
        "/apis/apps/v1/watch/namespaces/{namespace}/deployments",
        "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}",
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
    let scale = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["patch"]["operationId"],
        "patchAppsV1NamespacedDeploymentScale"
    );
    assert_eq!(
        scale["get"]["x-kubernetes-group-version-kind"]["kind"],
        "Scale"
    );
}

#[test]
fn deployment_schema_has_gvk_list_and_descriptions() {
    let api = service();
    let doc = parse(&api.document("apis/apps/v1").expect("doc"));
    let schemas = &doc["components"]["schemas"];
    let d = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        d["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert!(d["description"]
        .as_str()
        .is_some_and(|s| s.contains("Deployment")));
    // `$ref` with a description is wrapped in allOf, as upstream writes it.
    assert_eq!(
        d["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
    );
    assert!(d["properties"]["spec"]["description"].is_string());
    let ru = &schemas["io.k8s.api.apps.v1.RollingUpdateDeployment"];
    assert!(ru["properties"]["maxSurge"]["description"].is_string());
    assert_eq!(
        schemas["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"][0]["kind"],
        "DeploymentList"
    );
    for name in [
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
        "io.k8s.api.autoscaling.v1.Scale",
    ] {
        assert!(schemas.get(name).is_some(), "{name}");
    }
    let time = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"];
    assert_eq!(time["type"], "string");
    assert_eq!(time["format"], "date-time");
    let ios = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(ios["x-kubernetes-int-or-string"], true);
    assert_eq!(ios["format"], "int-or-string");
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
}

#[test]
fn core_v1_operation_ids_follow_upstream() {
    let api = service();
    let doc = parse(&api.document("api/v1").expect("doc"));
    let paths = &doc["paths"];
    assert_eq!(
        paths["/api/v1/namespaces/{namespace}/configmaps"]["get"]["operationId"],
        "listCoreV1NamespacedConfigMap"
    );
    assert_eq!(
        paths["/api/v1/configmaps"]["get"]["operationId"],
        "listCoreV1ConfigMapForAllNamespaces"
    );
    assert_eq!(
        paths["/api/v1/nodes/{name}"]["get"]["operationId"],
        "readCoreV1Node"
    );
    assert_eq!(
        paths["/api/v1/watch/namespaces/{namespace}/pods"]["get"]["operationId"],
        "watchCoreV1NamespacedPodList"
    );
    assert_eq!(
        paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"]["operationId"],
        "patchCoreV1NamespacedPodStatus"
    );
    assert_eq!(
        paths["/api/v1/"]["get"]["operationId"],
        "getCoreV1APIResources"
    );
    assert_eq!(paths["/api/v1/namespaces"]["get"]["tags"][0], "core_v1");
    // Namespaces are served without deletecollection.
    assert!(paths["/api/v1/namespaces"].get("delete").is_none());
    let coordination = parse(&api.document("apis/coordination.k8s.io/v1").expect("doc"));
    assert_eq!(
        coordination["paths"]["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"]["get"]
            ["operationId"],
        "listCoordinationV1NamespacedLease"
    );
    let group = parse(&api.document("apis/apps").expect("doc"));
    assert_eq!(
        group["paths"]["/apis/apps/"]["get"]["operationId"],
        "getAppsAPIGroup"
    );
}

#[test]
fn documents_are_deterministic() {
    let a = service().document("api/v1").expect("doc");
    let b = service().document("api/v1").expect("doc");
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.body, b.body);
    let api = service();
    assert_eq!(api.index(), api.index());
    assert_eq!(service().index(), api.index());
}

#[test]
fn validate_fields_through_service() {
    let api = service();
    let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"name": "a", "bogus": 1}]}}}});
    assert_eq!(
        api.validate_fields("io.k8s.api.apps.v1.Deployment", &obj),
        vec![r#"unknown field "spec.template.spec.containers[0].bogus""#]
    );
}

/// Prints build time and size of the big documents (`cargo test --lib openapi -- --ignored
/// --nocapture measure`).
#[test]
#[ignore]
fn measure_document_builds() {
    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
            })
            .unwrap_or(0)
    }
    let api = service();
    for key in ["apis/apps/v1", "api/v1"] {
        let before = rss_kib();
        let start = std::time::Instant::now();
        let doc = api.document(key).expect("doc");
        let took = start.elapsed();
        let after = rss_kib();
        // SAFETY: malloc_trim only returns free heap pages to the OS.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        unsafe {
            libc::malloc_trim(0);
        }
        println!(
            "{key}: {} bytes, built in {took:?}, RSS {before} KiB -> {after} KiB (peak), {} KiB after malloc_trim",
            doc.body.len(),
            rss_kib()
        );
    }
    let start = std::time::Instant::now();
    let index = api.index();
    println!(
        "index (all remaining docs): {:?}, RSS {} KiB",
        start.elapsed(),
        rss_kib()
    );
    let total: usize = index["paths"]
        .as_object()
        .map(|p| {
            p.keys()
                .filter_map(|k| api.document(k))
                .map(|d| d.body.len())
                .sum()
        })
        .unwrap_or(0);
    println!("all documents: {total} bytes");
    let v = validate::Validator::default();
    let start = std::time::Instant::now();
    v.validate("io.k8s.api.apps.v1.Deployment", &json!({}));
    println!("compile Deployment validator: {:?}", start.elapsed());
}
