//! Builders for the OpenAPI v3 documents served under `/openapi/v3/<path>`, shaped like the
//! documents kube-apiserver serves (kube-openapi `builder3`).

use super::{patchmeta, registry};
use crate::api::resource::{ResourceType, Subresource};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The Kubernetes version reported in `info.version`.
pub(crate) const KUBERNETES_VERSION: &str = "v1.33.1";

const REF_PREFIX: &str = "#/components/schemas/";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

const JSON_YAML_PB: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
const LIST_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
];
const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// `apps` -> `Apps`, `coordination.k8s.io` -> `Coordination`,
/// `rbac.authorization.k8s.io` -> `RbacAuthorization`, core -> `Core`.
pub(crate) fn op_group(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split('.').map(capitalize).collect()
}

/// Tag of a group-version's operations: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
fn tag(group: &str, version: &str) -> String {
    let mut g = op_group(group);
    if let Some(first) = g.get(..1) {
        g = first.to_lowercase() + &g[1..];
    }
    format!("{g}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}

fn content(schema: &str, types: &[&str]) -> Value {
    let mut m = Map::new();
    for t in types {
        m.insert((*t).into(), json!({ "schema": schema_ref(schema) }));
    }
    Value::Object(m)
}

fn response(schema: &str, types: &[&str]) -> Value {
    json!({ "description": "OK", "content": content(schema, types) })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

fn param(name: &str, location: &str, kind: &str, description: &str) -> Value {
    let mut p = json!({
        "name": name,
        "in": location,
        "description": description,
        "schema": { "type": kind, "uniqueItems": true },
    });
    if location == "path" {
        p["required"] = true.into();
    }
    p
}

fn query(name: &str) -> Value {
    let (kind, description) = match name {
        "pretty" => ("string", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."),
        "dryRun" => ("string", "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed"),
        "fieldManager" => ("string", "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch)."),
        "fieldValidation" => ("string", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default. - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered."),
        "force" => ("boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."),
        "gracePeriodSeconds" => ("integer", "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately."),
        "ignoreStoreReadErrorWithClusterBreakingPotential" => ("boolean", "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error. A resource is considered corrupt if it can not be retrieved from the underlying storage successfully because of a) its data can not be transformed e.g. decryption failure, or b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer constraints, skips precondition checks, and removes the object from the storage."),
        "orphanDependents" => ("boolean", "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both."),
        "propagationPolicy" => ("string", "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground."),
        "allowWatchBookmarks" => ("boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored."),
        "continue" => ("string", "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize."),
        "fieldSelector" => ("string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
        "labelSelector" => ("string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
        "limit" => ("integer", "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results."),
        "resourceVersion" => ("string", "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
        "resourceVersionMatch" => ("string", "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
        "sendInitialEvents" => ("boolean", "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent."),
        "timeoutSeconds" => ("integer", "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity."),
        "watch" => ("boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."),
        _ => ("string", ""),
    };
    param(name, "query", kind, description)
}

fn queries(names: &[&str]) -> Vec<Value> {
    names.iter().map(|n| query(n)).collect()
}

const LIST_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
/// The list parameters plus `pretty`, in upstream's (alphabetical) order, for watch paths.
const WATCH_PATH_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "pretty",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
const DELETE_COLLECTION_PARAMS: &[&str] = &[
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "labelSelector",
    "limit",
    "orphanDependents",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
];
const DELETE_PARAMS: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
];
const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];

/// What one operation needs besides its path.
struct Op<'a> {
    action: &'a str,
    id: String,
    description: String,
    gvk: Value,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Value,
}

impl Op<'_> {
    fn into_value(self, tag: &str) -> Value {
        let mut op = Map::new();
        op.insert("tags".into(), json!([tag]));
        op.insert("description".into(), self.description.into());
        op.insert("operationId".into(), self.id.into());
        if !self.params.is_empty() {
            op.insert("parameters".into(), Value::Array(self.params));
        }
        if let Some(body) = self.body {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), self.responses);
        op.insert("x-kubernetes-action".into(), self.action.into());
        op.insert("x-kubernetes-group-version-kind".into(), self.gvk);
        Value::Object(op)
    }
}

fn body(schema: &str) -> Value {
    json!({ "content": content(schema, &["*/*"]), "required": true })
}

fn responses(codes: &[(&str, &str, &[&str])]) -> Value {
    let mut m = Map::new();
    for (code, schema, types) in codes {
        let mut r = response(schema, types);
        if *code != "200" {
            r["description"] = match *code {
                "201" => "Created",
                "202" => "Accepted",
                _ => "OK",
            }
            .into();
        }
        m.insert((*code).into(), r);
    }
    m.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(m)
}

/// Paths and operations of one group-version.
struct PathBuilder<'a> {
    prefix: String,
    opgv: String,
    tag: String,
    paths: BTreeMap<String, Map<String, Value>>,
    group: &'a str,
    version: &'a str,
}

impl PathBuilder<'_> {
    fn add(&mut self, path: &str, params: Vec<Value>, method: &str, op: Op) {
        let item = self.paths.entry(path.to_string()).or_default();
        if !item.contains_key("parameters") {
            item.insert("parameters".into(), Value::Array(params));
        }
        item.insert(method.into(), op.into_value(&self.tag));
    }

    fn resource(&mut self, r: &ResourceType) {
        let kind = r.kind.as_str();
        let schema = r.schema_name.as_str();
        let list_schema = list_schema_name(r);
        let can = |v: &str| r.verbs.iter().any(|x| x == v);
        let gvk = gvk(self.group, self.version, kind);
        let pretty = query("pretty");
        let name_param = param("name", "path", "string", &format!("name of the {kind}"));
        let ns_param = param(
            "namespace",
            "path",
            "string",
            "object name and auth scope, such as for teams and projects",
        );
        let (scope, ns_path, scoped_params) = if r.namespaced {
            ("Namespaced", "/namespaces/{namespace}", vec![ns_param])
        } else {
            ("", "", vec![])
        };
        let opgv = self.opgv.clone();
        let collection = format!("{}{ns_path}/{}", self.prefix, r.plural);
        let item = format!("{collection}/{{name}}");
        let with = |mut v: Vec<Value>, extra: &[Value]| {
            v.extend(extra.iter().cloned());
            v
        };
        let coll_params = with(scoped_params.clone(), std::slice::from_ref(&pretty));
        let item_params = with(
            with(vec![name_param.clone()], &scoped_params),
            std::slice::from_ref(&pretty),
        );

        if can("list") {
            let op = Op {
                action: "list",
                id: format!("list{opgv}{scope}{kind}"),
                description: format!("list or watch objects of kind {kind}"),
                gvk: gvk.clone(),
                params: queries(LIST_PARAMS),
                body: None,
                responses: responses(&[("200", &list_schema, LIST_TYPES)]),
            };
            self.add(&collection, coll_params.clone(), "get", op);
            if r.namespaced {
                let op = Op {
                    action: "list",
                    id: format!("list{opgv}{kind}ForAllNamespaces"),
                    description: format!("list or watch objects of kind {kind}"),
                    gvk: gvk.clone(),
                    params: vec![],
                    body: None,
                    responses: responses(&[("200", &list_schema, LIST_TYPES)]),
                };
                let path = format!("{}/{}", self.prefix, r.plural);
                self.add(&path, queries(WATCH_PATH_PARAMS), "get", op);
            }
        }
        if can("create") {
            let op = Op {
                action: "post",
                id: format!("create{opgv}{scope}{kind}"),
                description: format!("create a {kind}"),
                gvk: gvk.clone(),
                params: queries(WRITE_PARAMS),
                body: Some(body(schema)),
                responses: responses(&[
                    ("200", schema, JSON_YAML_PB),
                    ("201", schema, JSON_YAML_PB),
                    ("202", schema, JSON_YAML_PB),
                ]),
            };
            self.add(&collection, coll_params.clone(), "post", op);
        }
        if can("deletecollection") {
            let op = Op {
                action: "deletecollection",
                id: format!("delete{opgv}Collection{scope}{kind}"),
                description: format!("delete collection of {kind}"),
                gvk: gvk.clone(),
                params: queries(DELETE_COLLECTION_PARAMS),
                body: Some(json!({ "content": content(DELETE_OPTIONS, &["*/*"]) })),
                responses: responses(&[("200", STATUS, JSON_YAML_PB)]),
            };
            self.add(&collection, coll_params.clone(), "delete", op);
        }
        if can("get") {
            let op = Op {
                action: "get",
                id: format!("read{opgv}{scope}{kind}"),
                description: format!("read the specified {kind}"),
                gvk: gvk.clone(),
                params: vec![],
                body: None,
                responses: responses(&[("200", schema, JSON_YAML_PB)]),
            };
            self.add(&item, item_params.clone(), "get", op);
        }
        if can("update") {
            self.add(
                &item,
                item_params.clone(),
                "put",
                self.replace(
                    &gvk,
                    schema,
                    &format!("{scope}{kind}"),
                    &format!("the specified {kind}"),
                ),
            );
        }
        if can("patch") {
            self.add(
                &item,
                item_params.clone(),
                "patch",
                self.patch(
                    &gvk,
                    schema,
                    &format!("{scope}{kind}"),
                    &format!("the specified {kind}"),
                ),
            );
        }
        if can("delete") {
            let op = Op {
                action: "delete",
                id: format!("delete{opgv}{scope}{kind}"),
                description: format!("delete a {kind}"),
                gvk: gvk.clone(),
                params: queries(DELETE_PARAMS),
                body: Some(json!({ "content": content(DELETE_OPTIONS, &["*/*"]) })),
                responses: responses(&[
                    ("200", STATUS, JSON_YAML_PB),
                    ("202", STATUS, JSON_YAML_PB),
                ]),
            };
            self.add(&item, item_params.clone(), "delete", op);
        }
        if can("watch") {
            let watch_params = |base: &[Value]| {
                let mut v = base.to_vec();
                v.extend(queries(WATCH_PATH_PARAMS));
                v
            };
            let watch_coll = format!("{}/watch{ns_path}/{}", self.prefix, r.plural);
            let op = Op {
                action: "watchlist",
                id: format!("watch{opgv}{scope}{kind}List"),
                description: format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
                gvk: gvk.clone(),
                params: vec![],
                body: None,
                responses: responses(&[("200", WATCH_EVENT, LIST_TYPES)]),
            };
            self.add(&watch_coll, watch_params(&scoped_params), "get", op);
            let op = Op {
                action: "watch",
                id: format!("watch{opgv}{scope}{kind}"),
                description: format!("watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."),
                gvk: gvk.clone(),
                params: vec![],
                body: None,
                responses: responses(&[("200", WATCH_EVENT, LIST_TYPES)]),
            };
            let base = with(vec![name_param.clone()], &scoped_params);
            self.add(
                &format!("{watch_coll}/{{name}}"),
                watch_params(&base),
                "get",
                op,
            );
            if r.namespaced {
                let op = Op {
                    action: "watchlist",
                    id: format!("watch{opgv}{kind}ListForAllNamespaces"),
                    description: format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
                    gvk: gvk.clone(),
                    params: vec![],
                    body: None,
                    responses: responses(&[("200", WATCH_EVENT, LIST_TYPES)]),
                };
                let path = format!("{}/watch/{}", self.prefix, r.plural);
                self.add(&path, watch_params(&[]), "get", op);
            }
        }
        for sub in &r.subresources {
            let Some(sub_schema) = subresource_schema(r, sub) else {
                continue;
            };
            let sub_gvk = self::gvk(&sub.group, &sub.version, &sub.kind);
            let suffix = capitalize(&sub.name);
            let path = format!("{item}/{}", sub.name);
            let what = format!("{} of the specified {kind}", sub.name);
            let has = |v: &str| sub.verbs.iter().any(|x| x == v);
            if has("get") {
                let op = Op {
                    action: "get",
                    id: format!("read{opgv}{scope}{kind}{suffix}"),
                    description: format!("read {what}"),
                    gvk: sub_gvk.clone(),
                    params: vec![],
                    body: None,
                    responses: responses(&[("200", sub_schema, JSON_YAML_PB)]),
                };
                self.add(&path, item_params.clone(), "get", op);
            }
            if has("update") {
                let op = self.replace(
                    &sub_gvk,
                    sub_schema,
                    &format!("{scope}{kind}{suffix}"),
                    &what,
                );
                self.add(&path, item_params.clone(), "put", op);
            }
            if has("patch") {
                let op = self.patch(
                    &sub_gvk,
                    sub_schema,
                    &format!("{scope}{kind}{suffix}"),
                    &what,
                );
                self.add(&path, item_params.clone(), "patch", op);
            }
        }
    }

    fn replace(&self, gvk: &Value, schema: &str, name: &str, what: &str) -> Op<'static> {
        Op {
            action: "put",
            id: format!("replace{}{name}", self.opgv),
            description: format!("replace {what}"),
            gvk: gvk.clone(),
            params: queries(WRITE_PARAMS),
            body: Some(body(schema)),
            responses: responses(&[("200", schema, JSON_YAML_PB), ("201", schema, JSON_YAML_PB)]),
        }
    }

    fn patch(&self, gvk: &Value, schema: &str, name: &str, what: &str) -> Op<'static> {
        Op {
            action: "patch",
            id: format!("patch{}{name}", self.opgv),
            description: format!("partially update {what}"),
            gvk: gvk.clone(),
            params: queries(PATCH_PARAMS),
            body: Some(json!({ "content": content(PATCH, PATCH_TYPES), "required": true })),
            responses: responses(&[("200", schema, JSON_YAML_PB), ("201", schema, JSON_YAML_PB)]),
        }
    }
}

/// Definition name of a resource's list kind (`io.k8s.api.apps.v1.DeploymentList`).
pub(crate) fn list_schema_name(r: &ResourceType) -> String {
    match r.schema_name.rsplit_once('.') {
        Some((package, _)) => format!("{package}.{}", r.list_kind),
        None => r.list_kind.clone(),
    }
}

/// The schema of the status and scale subresources; other subresources are not documented.
fn subresource_schema<'a>(r: &'a ResourceType, sub: &Subresource) -> Option<&'a str> {
    match sub.name.as_str() {
        "status" => Some(r.schema_name.as_str()),
        "scale" => Some(SCALE),
        _ => None,
    }
}

/// True when the resource can be documented (its schema is registered).
pub(crate) fn documentable(r: &ResourceType) -> bool {
    !r.schema_name.is_empty() && registry::is_known(&r.schema_name)
}

fn skeleton(paths: Map<String, Value>, schemas: Map<String, Value>) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                },
            },
        },
        "security": [{ "BearerToken": [] }],
    })
}

/// Generates the definitions reachable from `roots`, in name order, with upstream's extensions.
fn definitions(roots: &[String]) -> Map<String, Value> {
    let mut generator = registry::generator();
    for root in roots {
        registry::add_definition(&mut generator, root);
    }
    let mut defs = generator.take_definitions(true);
    patchmeta::apply(&mut defs);
    if let Some(Value::Object(s)) = defs.get_mut(INT_OR_STRING) {
        s.insert("format".into(), "int-or-string".into());
        s.insert(
            "oneOf".into(),
            json!([{ "type": "integer" }, { "type": "string" }]),
        );
    }
    if let Some(Value::Object(s)) = defs.get_mut(QUANTITY) {
        s.insert(
            "oneOf".into(),
            json!([{ "type": "string" }, { "type": "number" }]),
        );
    }
    let mut sorted: Vec<(String, Value)> = defs.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.into_iter().collect()
}

fn add_gvk(defs: &mut Map<String, Value>, name: &str, gvks: Vec<Value>) {
    if let Some(Value::Object(s)) = defs.get_mut(name) {
        s.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
    }
}

/// The document of one group-version (`api/v1`, `apis/apps/v1`).
pub(crate) fn group_version(
    group: &str,
    version: &str,
    resources: &[&ResourceType],
    extra: &Map<String, Value>,
) -> Value {
    let documentable = |r: &ResourceType| documentable(r) || extra.contains_key(&r.schema_name);
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut b = PathBuilder {
        prefix: prefix.clone(),
        opgv: format!("{}{}", op_group(group), capitalize(version)),
        tag: tag(group, version),
        paths: BTreeMap::new(),
        group,
        version,
    };
    let mut roots: Vec<String> = [
        STATUS,
        DELETE_OPTIONS,
        WATCH_EVENT,
        PATCH,
        API_RESOURCE_LIST,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !extra.is_empty() {
        roots.push(super::custom::OBJECT_META.to_string());
        roots.push(super::custom::LIST_META.to_string());
    }
    for r in resources.iter().filter(|r| documentable(r)) {
        b.resource(r);
        roots.push(r.schema_name.clone());
        roots.push(list_schema_name(r));
        for sub in &r.subresources {
            if let Some(s) = subresource_schema(r, sub) {
                roots.push(s.to_string());
            }
        }
    }
    let resources_op = Op {
        action: "",
        id: format!("get{}APIResources", b.opgv),
        description: "get available resources".into(),
        gvk: Value::Null,
        params: vec![],
        body: None,
        responses: responses(&[("200", API_RESOURCE_LIST, JSON_YAML_PB)]),
    };
    let mut resources_op = resources_op.into_value(&b.tag);
    if let Some(op) = resources_op.as_object_mut() {
        op.remove("x-kubernetes-action");
        op.remove("x-kubernetes-group-version-kind");
    }
    b.paths
        .entry(format!("{prefix}/"))
        .or_default()
        .insert("get".into(), resources_op);

    let mut defs = definitions(&roots);
    if !extra.is_empty() {
        defs.extend(extra.clone());
        let mut sorted: Vec<(String, Value)> = std::mem::take(&mut defs).into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        defs = sorted.into_iter().collect();
    }
    for r in resources.iter().filter(|r| documentable(r)) {
        add_gvk(
            &mut defs,
            &r.schema_name,
            vec![gvk(group, version, &r.kind)],
        );
        add_gvk(
            &mut defs,
            &list_schema_name(r),
            vec![gvk(group, version, &r.list_kind)],
        );
    }
    let mut shared = vec![gvk("", "v1", "")];
    if !group.is_empty() {
        shared.push(gvk(group, version, ""));
    }
    for (name, kind) in [
        (DELETE_OPTIONS, "DeleteOptions"),
        (WATCH_EVENT, "WatchEvent"),
    ] {
        let gvks = shared
            .iter()
            .cloned()
            .map(|mut g| {
                g["kind"] = kind.into();
                g
            })
            .collect();
        add_gvk(&mut defs, name, gvks);
    }
    add_gvk(&mut defs, STATUS, vec![gvk("", "v1", "Status")]);
    if resources.iter().any(|r| r.has_subresource("scale")) {
        add_gvk(&mut defs, SCALE, vec![gvk("autoscaling", "v1", "Scale")]);
    }
    let paths = b
        .paths
        .into_iter()
        .map(|(k, v)| (k, Value::Object(v)))
        .collect();
    skeleton(paths, defs)
}

/// A discovery document: one GET path returning one schema (`api`, `apis`, `apis/<group>`,
/// `version`).
pub(crate) fn discovery(path: &str, id: &str, tag: &str, description: &str, schema: &str) -> Value {
    let op = json!({
        "tags": [tag],
        "description": description,
        "operationId": id,
        "responses": responses(&[("200", schema, &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"])]),
    });
    let mut paths = Map::new();
    paths.insert(path.into(), json!({ "get": op }));
    skeleton(paths, definitions(&[schema.to_string()]))
}
