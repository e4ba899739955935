//! Operation objects: media types, parameters (with upstream's descriptions), request bodies
//! and responses of the operations under each path.

use super::schema_ref;
use serde_json::{json, Map, Value};

/// Media types of single-object answers.
pub(super) const JSON_YAML_PB: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
/// Media types of list (and watch) answers.
pub(super) const LIST_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
];
/// Media types a PATCH body may have.
pub(super) const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// A `content` object: `schema` for each media type.
pub(super) fn content(schema: &str, types: &[&str]) -> Value {
    let mut m = Map::new();
    for t in types {
        m.insert((*t).into(), json!({ "schema": schema_ref(schema) }));
    }
    Value::Object(m)
}

fn response(schema: &str, types: &[&str]) -> Value {
    json!({ "description": "OK", "content": content(schema, types) })
}

/// A parameter object (path parameters are required).
pub(super) fn param(name: &str, location: &str, kind: &str, description: &str) -> Value {
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

/// The query parameter `name` with upstream's description.
pub(super) fn query(name: &str) -> Value {
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

/// The query parameters `names`, in order.
pub(super) fn queries(names: &[&str]) -> Vec<Value> {
    names.iter().map(|n| query(n)).collect()
}

/// Query parameters of list operations.
pub(super) const LIST_PARAMS: &[&str] = &[
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
pub(super) const WATCH_PATH_PARAMS: &[&str] = &[
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
/// Query parameters of deletecollection operations.
pub(super) const DELETE_COLLECTION_PARAMS: &[&str] = &[
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
/// Query parameters of delete operations.
pub(super) const DELETE_PARAMS: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
];
/// Query parameters of create and replace operations.
pub(super) const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
/// Query parameters of patch operations.
pub(super) const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];

/// What one operation needs besides its path.
pub(super) struct Op<'a> {
    pub(super) action: &'a str,
    pub(super) id: String,
    pub(super) description: String,
    pub(super) gvk: Value,
    pub(super) params: Vec<Value>,
    pub(super) body: Option<Value>,
    pub(super) responses: Value,
}

impl Op<'_> {
    pub(super) fn into_value(self, tag: &str) -> Value {
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

/// A required request body of `schema`, any media type.
pub(super) fn body(schema: &str) -> Value {
    json!({ "content": content(schema, &["*/*"]), "required": true })
}

/// The responses object for `(code, schema, media types)`, plus 401.
pub(super) fn responses(codes: &[(&str, &str, &[&str])]) -> Value {
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
