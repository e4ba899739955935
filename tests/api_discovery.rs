//! Discovery, OpenAPI, Table and metrics endpoints as kubectl and other clients read them.

mod common;

use common::Server;
use serde_json::Value;

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn explain_uses_openapi_v3() {
    let s = Server::start();
    let out = s.kubectl_ok(&["explain", "deployment.spec.strategy.rollingUpdate"]);
    assert!(out.contains("KIND:       Deployment") && out.contains("FIELD: rollingUpdate <RollingUpdateDeployment>"), "{out}");
    assert!(out.contains("maxSurge\t<IntOrString>") && out.contains("maxUnavailable\t<IntOrString>"), "{out}");
    let out = s.kubectl_ok(&["explain", "configmap.data"]);
    assert!(out.contains("FIELD: data <map[string]string>"), "{out}");

    let (code, index) = s.curl(&["/openapi/v3"]);
    assert_eq!(code, 200);
    let url = json(&index)["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap_or("").to_string();
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{index}");
    let (code, headers) = s.curl(&[&url, "-D", "-", "-o", "/dev/null"]);
    assert_eq!(code, 200);
    let headers = headers.to_ascii_lowercase();
    assert!(headers.contains("cache-control: public, immutable") && headers.contains("etag:"), "{headers}");
    let (code, doc) = s.curl(&["/openapi/v3/apis/apps/v1"]);
    assert_eq!(code, 200);
    let doc = json(&doc);
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
    assert!(patch["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation")), "{patch}");
    assert_eq!(s.curl(&["/openapi/v2"]).0, 404);
}

#[test]
fn aggregated_and_legacy_discovery() {
    let s = Server::start();
    let accept = "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (code, body) = s.curl(&["/apis", "-H", accept, "-D", "/dev/stderr"]);
    assert_eq!(code, 200);
    let v = json(&body);
    assert_eq!(v["kind"], "APIGroupDiscoveryList");
    assert_eq!(v["apiVersion"], "apidiscovery.k8s.io/v2");
    let apps = v["items"].as_array().and_then(|a| a.iter().find(|g| g["metadata"]["name"] == "apps")).cloned().expect("apps group");
    let deploy = apps["versions"][0]["resources"].as_array().and_then(|r| r.iter().find(|r| r["resource"] == "deployments")).cloned().expect("deployments");
    assert_eq!(deploy["scope"], "Namespaced");
    assert_eq!(deploy["responseKind"]["kind"], "Deployment");
    assert_eq!(deploy["shortNames"][0], "deploy");
    assert!(deploy["subresources"].as_array().is_some_and(|s| s.iter().any(|x| x["subresource"] == "scale" && x["responseKind"]["kind"] == "Scale")));

    let (_, body) = s.curl(&["/api"]);
    assert_eq!(json(&body)["versions"][0], "v1");
    let (_, body) = s.curl(&["/apis/apps"]);
    let g = json(&body);
    assert_eq!((g["kind"].as_str(), g["preferredVersion"]["groupVersion"].as_str()), (Some("APIGroup"), Some("apps/v1")));
    let (_, body) = s.curl(&["/api/v1"]);
    let list = json(&body);
    let pods_log = list["resources"].as_array().and_then(|r| r.iter().find(|r| r["name"] == "pods/log")).cloned();
    assert!(pods_log.is_some(), "{body}");
}

#[test]
fn table_and_partial_metadata() {
    let s = Server::start();
    let (code, body) = s.curl(&["/api/v1/namespaces", "-H", "Accept: application/json;as=Table;v=v1;g=meta.k8s.io"]);
    assert_eq!(code, 200);
    let t = json(&body);
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"].as_array().map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect()).unwrap_or_default();
    assert_eq!(cols, ["Name", "Status", "Age"]);
    assert_eq!(t["rows"][0]["cells"][0], "default");
    assert_eq!(t["rows"][0]["cells"][1], "Active");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert!(t["rows"][0]["object"]["metadata"]["uid"].is_string());

    let (code, body) = s.curl(&["/api/v1/namespaces?includeObject=None", "-H", "Accept: application/json;as=Table;v=v1;g=meta.k8s.io"]);
    assert_eq!(code, 200);
    assert!(json(&body)["rows"][0].get("object").is_none());

    let (code, body) = s.curl(&["/api/v1/namespaces", "-H", "Accept: application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"]);
    assert_eq!(code, 200);
    let l = json(&body);
    assert_eq!(l["kind"], "PartialObjectMetadataList");
    assert!(l["items"][0].get("spec").is_none() && l["items"][0]["metadata"]["name"].is_string());

    let (code, _) = s.curl(&["/api/v1/namespaces", "-H", "Accept: application/json;as=Table;v=v2;g=meta.k8s.io"]);
    assert_eq!(code, 406);
}

#[test]
fn metrics_count_requests() {
    let s = Server::start();
    s.kubectl_ok(&["get", "ns"]);
    let (code, body) = s.curl(&["/metrics"]);
    assert_eq!(code, 200);
    let line = body
        .lines()
        .find(|l| l.starts_with("apiserver_request_total{code=\"200\",resource=\"namespaces\",verb=\"list\"}"))
        .unwrap_or_else(|| panic!("{body}"));
    let n: u64 = line.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(n >= 1, "{line}");
    assert!(body.contains("apiserver_request_duration_seconds_bucket{resource=\"namespaces\",verb=\"list\",le=\"+Inf\"}"));
}
