//! CustomResourceDefinitions: a CRD's served versions become registry entries (a
//! [`ResourceType`] plus a [`Strategy`] carrying a [`CustomResource`]), so custom resources are
//! served by the one generic store. The controller keeping the registry, the OpenAPI documents
//! and the CRD status current lives in [`controller`].

pub mod columns;
pub mod controller;
pub mod schema;
pub mod validation;

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::errors::{ApiError, ApiResult};
use super::object::ObjectMeta;
use super::registry::ResourceEntry;
use super::resource::{ResourceType, Subresource};
use super::strategy::Strategy;

pub use controller::start;

/// The group of CustomResourceDefinitions.
pub const GROUP: &str = "apiextensions.k8s.io";
/// The storage prefix of CustomResourceDefinitions.
pub const CRD_PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";
/// The finalizer that deletes a CRD's objects before the CRD goes.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The `scale` subresource's paths.
#[derive(Clone, Debug, Default)]
pub struct ScalePaths {
    /// `specReplicasPath`, e.g. `.spec.replicas`.
    pub spec_replicas: String,
    /// `statusReplicasPath`, e.g. `.status.replicas`.
    pub status_replicas: String,
    /// `labelSelectorPath`, e.g. `.status.selector`.
    pub label_selector: Option<String>,
}

/// What the generic store needs to serve one version of a custom resource.
#[derive(Debug)]
pub struct CustomResource {
    /// Name of the CRD (`crontabs.stable.example.com`).
    pub crd_name: String,
    /// The served version.
    pub version: String,
    /// The `openAPIV3Schema` of the version, if any.
    pub schema: Option<Value>,
    /// `additionalPrinterColumns` (with the default `Age` column when none are given).
    pub columns: Vec<columns::PrinterColumn>,
    /// The `scale` subresource, when enabled.
    pub scale: Option<ScalePaths>,
    /// True when the `status` subresource is enabled.
    pub status: bool,
}

impl CustomResource {
    /// Create-time preparation: drops status when it is a subresource, prunes and defaults.
    pub fn prepare_for_create(&self, obj: &mut Value) {
        if self.status {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        self.prepare(obj);
        obj.set_meta("generation", json!(1));
    }

    /// Prunes unknown fields and applies defaults (every write).
    pub fn prepare(&self, obj: &mut Value) {
        if let Some(s) = &self.schema {
            schema::prune(s, obj, &mut Vec::new());
            schema::default(s, obj);
        }
    }

    /// The fields pruning would drop, as strict decoding reports them (`unknown field "spec.foo"`).
    pub fn unknown_fields(&self, obj: &Value) -> Vec<String> {
        let mut unknown = Vec::new();
        if let Some(s) = &self.schema {
            let mut copy = obj.clone();
            schema::prune(s, &mut copy, &mut unknown);
        }
        unknown
            .into_iter()
            .map(|p| format!("unknown field \"{p}\""))
            .collect()
    }
}

/// The OpenAPI definition name of a custom kind (`com.example.stable.v1.CronTab`).
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Kubernetes version priority: GA before beta before alpha, higher numbers first, others last
/// in name order. Returns a sort key.
pub fn version_key(v: &str) -> (u8, i64, i64, String) {
    let re = regex::Regex::new(r"^v(\d+)(?:(alpha|beta)(\d+))?$").ok();
    if let Some(c) = re.and_then(|re| re.captures(v)) {
        let major: i64 = c[1].parse().unwrap_or(0);
        let (rank, minor) = match c.get(2).map(|m| m.as_str()) {
            None => (0, 0),
            Some("beta") => (1, c[3].parse().unwrap_or(0)),
            _ => (2, c[3].parse().unwrap_or(0)),
        };
        return (rank, -major, -minor, String::new());
    }
    (3, 0, 0, v.to_string())
}

/// The registry entries of a CRD: one per served version, in version priority order.
pub fn entries_for(crd: &Value) -> Vec<ResourceEntry> {
    let group = s(crd, "/spec/group").to_string();
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let kind = s(&names, "/kind").to_string();
    let plural = s(&names, "/plural").to_string();
    let list_kind = match s(&names, "/listKind") {
        "" => format!("{kind}List"),
        l => l.to_string(),
    };
    let singular = match s(&names, "/singular") {
        "" => kind.to_lowercase(),
        l => l.to_string(),
    };
    let namespaced = s(crd, "/spec/scope") != "Cluster";
    let mut versions: Vec<&Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|v| version_key(s(v, "/name")));
    let mut out = Vec::new();
    for v in versions {
        let version = s(v, "/name").to_string();
        let status = v.pointer("/subresources/status").is_some();
        let scale = v.pointer("/subresources/scale").map(|sc| ScalePaths {
            spec_replicas: s(sc, "/specReplicasPath").to_string(),
            status_replicas: s(sc, "/statusReplicasPath").to_string(),
            label_selector: sc
                .get("labelSelectorPath")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
        let mut subresources = Vec::new();
        let sub_verbs: Vec<String> = ["get", "patch", "update"].map(String::from).to_vec();
        if status {
            subresources.push(Subresource {
                name: "status".into(),
                group: group.clone(),
                version: version.clone(),
                kind: kind.clone(),
                verbs: sub_verbs.clone(),
            });
        }
        if scale.is_some() {
            subresources.push(Subresource {
                name: "scale".into(),
                group: "autoscaling".into(),
                version: "v1".into(),
                kind: "Scale".into(),
                verbs: sub_verbs.clone(),
            });
        }
        let rt = ResourceType {
            group: group.clone(),
            version: version.clone(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced,
            short_names: strs(names.get("shortNames")),
            categories: strs(names.get("categories")),
            verbs: [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ]
            .map(String::from)
            .to_vec(),
            subresources,
            schema_name: definition_name(&group, &version, &kind),
        };
        let custom = CustomResource {
            crd_name: crd.name().to_string(),
            version: version.clone(),
            schema: v.pointer("/schema/openAPIV3Schema").cloned(),
            columns: columns::from_version(v),
            scale,
            status,
        };
        let mut strategy = Strategy::for_builtin(&rt);
        strategy.tracks_generation = true;
        strategy.allow_create_on_update = false;
        strategy.return_deleted_object = false;
        strategy.custom = Some(Arc::new(custom));
        out.push(ResourceEntry {
            prefix: format!("/registry/{group}/{plural}/"),
            rt,
            strategy,
            conversion: None,
        });
    }
    out
}

/// Defaults of a CRD (`SetDefaults_CustomResourceDefinition`) and, on create, its initial status.
pub fn prepare_crd(obj: &mut Value, old: Option<&Value>) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if names
            .get("singular")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if names
            .get("listKind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
            && !kind.is_empty()
        {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    spec.entry("conversion")
        .or_insert_with(|| json!({"strategy": "None"}));
    if let Some(versions) = spec.get_mut("versions").and_then(Value::as_array_mut) {
        for v in versions {
            if let Some(cols) = v
                .get_mut("additionalPrinterColumns")
                .and_then(Value::as_array_mut)
            {
                for c in cols {
                    if let Some(c) = c.as_object_mut() {
                        c.retain(|k, v| !(k == "priority" && v == &json!(0)));
                    }
                }
            }
        }
    }
    if old.is_none() {
        let storage = storage_version(obj);
        let mut status = Map::new();
        status.insert("acceptedNames".into(), json!({"plural": "", "kind": ""}));
        status.insert("storedVersions".into(), json!([storage]));
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), Value::Object(status));
        }
    }
}

/// The name of a CRD's storage version.
pub fn storage_version(crd: &Value) -> String {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
        .map(|v| s(v, "/name").to_string())
        .unwrap_or_default()
}

/// An object as the entry's version serves it (conversion strategy None: only `apiVersion`).
pub fn convert<'a>(res: &ResourceEntry, obj: &'a Value) -> Cow<'a, Value> {
    if res.strategy.custom.is_none() {
        return Cow::Borrowed(obj);
    }
    let want = res.rt.api_version();
    if obj.get("kind").and_then(Value::as_str) != Some(res.rt.kind.as_str())
        || obj.get("apiVersion").and_then(Value::as_str) == Some(want.as_str())
    {
        return Cow::Borrowed(obj);
    }
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        if m.contains_key("apiVersion") {
            m.insert("apiVersion".into(), json!(want));
        }
    }
    Cow::Owned(o)
}

fn pointer_of(path: &str) -> String {
    path.split('.')
        .filter(|p| !p.is_empty())
        .map(|p| format!("/{p}"))
        .collect()
}

/// The autoscaling/v1 `Scale` of an object (custom resources use their scale paths).
pub fn scale_of(res: &ResourceEntry, obj: &Value) -> ApiResult<Value> {
    let Some(paths) = res.strategy.custom.as_ref().and_then(|c| c.scale.as_ref()) else {
        return super::patch::scale_of(obj);
    };
    let mut scale = super::patch::scale_of(obj)?;
    let spec = obj
        .pointer(&pointer_of(&paths.spec_replicas))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status = obj
        .pointer(&pointer_of(&paths.status_replicas))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    scale["spec"] = json!({"replicas": spec});
    let mut st = json!({"replicas": status});
    if let Some(sel) = paths
        .label_selector
        .as_deref()
        .and_then(|p| obj.pointer(&pointer_of(p)))
        .and_then(Value::as_str)
    {
        st["selector"] = json!(sel);
    }
    scale["status"] = st;
    Ok(scale)
}

/// Applies a Scale to an object (custom resources write their `specReplicasPath`).
pub fn apply_scale(res: &ResourceEntry, old: &Value, scale: &Value) -> ApiResult<Value> {
    let Some(paths) = res.strategy.custom.as_ref().and_then(|c| c.scale.as_ref()) else {
        return super::patch::apply_scale(old, scale);
    };
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::bad_request("spec.replicas is required in a Scale"))?;
    // The built-in write checks the value and carries the resourceVersion; spec is restored.
    let mut new = super::patch::apply_scale(old, scale)?;
    match (old.get("spec"), new.as_object_mut()) {
        (Some(spec), Some(m)) => {
            m.insert("spec".into(), spec.clone());
        }
        (None, Some(m)) => {
            m.remove("spec");
        }
        _ => {}
    }
    let segs: Vec<&str> = paths
        .spec_replicas
        .split('.')
        .filter(|p| !p.is_empty())
        .collect();
    let mut cur = &mut new;
    for (i, seg) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(m) = cur.as_object_mut() else { break };
        if i + 1 == segs.len() {
            m.insert((*seg).to_string(), json!(replicas));
            break;
        }
        cur = m.entry((*seg).to_string()).or_insert_with(|| json!({}));
    }
    if new.get("spec") != old.get("spec") {
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        new.set_meta("generation", json!(generation + 1));
    }
    Ok(new)
}

/// The 415 answered to strategic merge patches of custom resources.
pub fn strategic_patch_unsupported() -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    )
}
